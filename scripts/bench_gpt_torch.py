#!/usr/bin/python3
"""The PyTorch side of `ringmaster bench gpt` (src/bench_gpt.cpp), which runs it as a co-process so that the
two implementations take turns in the same stretch of time. The model is tools/gpt_torch.py's GPT (the one
PyTorch definition of the gpt network), on one thread (torch.set_num_threads(1)), float32, random weights in
every block, with PyTorch's fused scaled-dot-product attention where this torch has it (public from 2.0,
private in 1.13), else the written-out math; autograd forward and backward of the mean cross-entropy of B
full-context sequences into every weight.

Protocol (scripts/torch_coprocess.py): "setup L H C T B" -> "ok ATTENTION" (sdpa or math) builds the model and
a random batch; "run K" -> the seconds of K forward+backward passes; "quit".
Needs Debian's python3-torch (scripts/bootstrap.sh); without it, prints the reason to stderr and exits 1.
"""
import math
import sys
from pathlib import Path

import torch_coprocess

torch = torch_coprocess.import_torch("bench_gpt_torch.py")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import gpt_torch  # noqa: E402


def setup(numbers):
    layers, heads, width, context, batch = numbers
    attention = "sdpa" if gpt_torch.has_sdpa() else "math"
    model = gpt_torch.GPT(layers, heads, width, context, attention=attention)
    params = list(model.parameters())
    with torch.no_grad():  # random weights in every block (the zero init would make some products trivial)
        for p in params:
            p.normal_(0.0, 1.0 if p is model.wte.weight else 1.0 / math.sqrt(p.shape[1]))
    inputs = torch.randint(0, gpt_torch.VOCAB, (batch, context))
    targets = torch.randint(0, gpt_torch.VOCAB, (batch, context))

    def step():
        _, loss = model(inputs, targets)
        return torch.autograd.grad(loss, params)

    return step, attention


torch_coprocess.serve(setup)
