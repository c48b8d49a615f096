#!/usr/bin/python3
"""PyTorch reference for tests/test_mlp.cpp (docs/method.md §6): the loss and the autograd gradients of the
Fashion-MNIST MLP on one minibatch, on one thread, in float32.

Usage: mlp_reference.py DIR, where DIR holds what the test wrote:
  widths.txt  d_0 d_1 ... d_L
  params.f32  the flat parameters in Ringmaster's layout order: fc1.weight (d_1, d_0), fc1.bias (d_1), fc2...
  inputs.f32  (B, d_0) the minibatch as the network sees it
  labels.u8   (B)
and writes DIR/grad.f32 (the gradient of the mean cross-entropy, same layout) and DIR/loss.txt.
Runs with Debian's /usr/bin/python3 (python3-torch, python3-numpy); a missing torch is an error, not a skip.
"""
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def main(directory: Path) -> None:
    torch.set_num_threads(1)
    widths = [int(w) for w in (directory / "widths.txt").read_text().split()]
    flat = torch.from_numpy(np.fromfile(directory / "params.f32", dtype=np.float32))
    labels = torch.from_numpy(np.fromfile(directory / "labels.u8", dtype=np.uint8).astype(np.int64))
    inputs = torch.from_numpy(np.fromfile(directory / "inputs.f32", dtype=np.float32)).reshape(len(labels), widths[0])

    params, offset = [], 0
    for d_in, d_out in zip(widths[:-1], widths[1:]):
        for shape in ((d_out, d_in), (d_out,)):
            count = int(np.prod(shape))
            params.append(flat[offset:offset + count].reshape(shape).clone().requires_grad_(True))
            offset += count
    if offset != flat.numel():
        raise SystemExit(f"params.f32 has {flat.numel()} floats, widths {widths} need {offset}")

    a = inputs
    layers = len(widths) - 1
    for l in range(layers):
        a = F.linear(a, params[2 * l], params[2 * l + 1])
        if l + 1 < layers:
            a = torch.relu(a)
    loss = F.cross_entropy(a, labels)  # mean over the batch
    grads = torch.autograd.grad(loss, params)
    torch.cat([g.reshape(-1) for g in grads]).numpy().astype(np.float32).tofile(directory / "grad.f32")
    (directory / "loss.txt").write_text(repr(loss.item()) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
