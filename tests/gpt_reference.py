#!/usr/bin/python3
"""PyTorch reference for tests/test_gpt.cpp (docs/method.md §6): outputs and autograd gradients of the gpt
network's layers and of the whole model (tools/gpt_torch.py), computed in float64 from the float32 inputs
the test wrote, so that the comparison measures only the rounding of Ringmaster's float32 code.

Usage: gpt_reference.py DIR. DIR/cases.txt has one case a line, "KIND NAME DIMS...":
  rmsnorm    NAME N C            x (N, C), dy            -> y, dx
  rotary     NAME B T H D        x (B, T, H, D), dy      -> y, dx
  attention  NAME B T H D        q, k, v (B, T, H, D), dy -> y, dq, dk, dv   (rotary, QK-norm, causal attention)
  mlp        NAME N C            x (N, C), c_fc (4C, C), c_proj (C, 4C), dy -> y = x + mlp(x), dx, dc_fc, dc_proj
  softcap_ce NAME N V            z (N, V), targets.u8 (N) -> s = 15 tanh(z / 15), loss (mean), dz (of the mean)
  model      NAME L H C CTX B T  params (layout order), inputs.u8, targets.u8 (B, T) -> logits, loss, grad (of the mean),
                                 layout.txt (the twin's blocks: "name rows cols" a line)
Inputs are DIR/NAME.TENSOR.f32 (or .u8); outputs DIR/NAME.TENSOR.f64, the loss DIR/NAME.loss.txt.
Runs with Debian's /usr/bin/python3 (python3-torch, python3-numpy); a missing torch is an error, not a skip.
"""
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import gpt_torch  # noqa: E402  (the one PyTorch definition of the model)


def main(directory: Path) -> None:
    torch.set_num_threads(1)

    def tensor(name, shape):
        data = np.fromfile(directory / f"{name}.f32", dtype=np.float32).astype(np.float64)
        if data.size != int(np.prod(shape)):
            raise SystemExit(f"{name}.f32 has {data.size} values, expected shape {shape}")
        return torch.from_numpy(data).reshape(shape).requires_grad_(True)

    def tokens(name):
        return torch.from_numpy(np.fromfile(directory / f"{name}.u8", dtype=np.uint8).astype(np.int64))

    def write(name, value):
        value.detach().reshape(-1).numpy().astype(np.float64).tofile(directory / f"{name}.f64")

    for line in (directory / "cases.txt").read_text().splitlines():
        kind, name, *dims = line.split()
        dims = [int(d) for d in dims]
        if kind == "rmsnorm":
            N, C = dims
            x, dy = tensor(f"{name}.x", (N, C)), tensor(f"{name}.dy", (N, C))
            y = gpt_torch.rmsnorm(x)
            (dx,) = torch.autograd.grad(y, [x], dy)
            write(f"{name}.y", y), write(f"{name}.dx", dx)
        elif kind == "rotary":
            B, T, H, D = dims
            x, dy = tensor(f"{name}.x", (B, T, H, D)), tensor(f"{name}.dy", (B, T, H, D))
            cos, sin = gpt_torch.rotary_tables(T, D, torch.float64)
            y = gpt_torch.apply_rotary(x, cos, sin)
            (dx,) = torch.autograd.grad(y, [x], dy)
            write(f"{name}.y", y), write(f"{name}.dx", dx)
        elif kind == "attention":
            B, T, H, D = dims
            q, k, v = (tensor(f"{name}.{t}", (B, T, H, D)) for t in "qkv")
            dy = tensor(f"{name}.dy", (B, T, H, D))
            cos, sin = gpt_torch.rotary_tables(T, D, torch.float64)
            qn = gpt_torch.rmsnorm(gpt_torch.apply_rotary(q, cos, sin))
            kn = gpt_torch.rmsnorm(gpt_torch.apply_rotary(k, cos, sin))
            y = gpt_torch.causal_attention(qn.transpose(1, 2), kn.transpose(1, 2), v.transpose(1, 2), "math")
            y = y.transpose(1, 2)
            dq, dk, dv = torch.autograd.grad(y, [q, k, v], dy)
            write(f"{name}.y", y), write(f"{name}.dq", dq), write(f"{name}.dk", dk), write(f"{name}.dv", dv)
        elif kind == "mlp":
            N, C = dims
            x, dy = tensor(f"{name}.x", (N, C)), tensor(f"{name}.dy", (N, C))
            c_fc, c_proj = tensor(f"{name}.c_fc", (4 * C, C)), tensor(f"{name}.c_proj", (C, 4 * C))
            y = x + F.linear(F.relu(F.linear(x, c_fc)).square(), c_proj)
            dx, dc_fc, dc_proj = torch.autograd.grad(y, [x, c_fc, c_proj], dy)
            write(f"{name}.y", y), write(f"{name}.dx", dx), write(f"{name}.dc_fc", dc_fc)
            write(f"{name}.dc_proj", dc_proj)
        elif kind == "softcap_ce":
            N, V = dims
            z, targets = tensor(f"{name}.z", (N, V)), tokens(f"{name}.targets")
            s = gpt_torch.SOFTCAP * torch.tanh(z / gpt_torch.SOFTCAP)
            loss = F.cross_entropy(s, targets)
            (dz,) = torch.autograd.grad(loss, [z])
            write(f"{name}.s", s), write(f"{name}.dz", dz)
            (directory / f"{name}.loss.txt").write_text(repr(loss.item()) + "\n")
        elif kind == "model":
            L, H, C, context, B, T = dims
            model = gpt_torch.GPT(L, H, C, context, attention="math").double()
            flat = np.fromfile(directory / f"{name}.params.f32", dtype=np.float32)
            gpt_torch.load_flat(model, torch.from_numpy(flat.astype(np.float64)))
            inputs = tokens(f"{name}.inputs").reshape(B, T)
            targets = tokens(f"{name}.targets").reshape(B, T)
            logits, loss = model(inputs, targets)
            grads = torch.autograd.grad(loss, list(model.parameters()))
            write(f"{name}.logits", logits)
            write(f"{name}.grad", torch.cat([g.reshape(-1) for g in grads]))
            (directory / f"{name}.loss.txt").write_text(repr(loss.item()) + "\n")
            (directory / f"{name}.layout.txt").write_text(
                "".join(f"{block} {rows} {cols}\n" for block, (rows, cols) in gpt_torch.layout(model)))
        else:
            raise SystemExit(f"cases.txt: unknown kind {kind!r}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
