#!/usr/bin/python3
"""The PyTorch side of `ringmaster bench mlp` (src/bench_mlp.cpp), which runs it as a co-process so that the
two implementations take turns in the same stretch of time. One thread (torch.set_num_threads(1)),
float32, an nn.Sequential of Linear and ReLU layers, autograd forward and backward of F.cross_entropy.

Protocol (scripts/torch_coprocess.py): "setup B d_0 d_1 ... d_L" -> "ok" builds the model and a random batch;
"run K" -> the seconds of K forward+backward passes; "quit".
Needs Debian's python3-torch (scripts/bootstrap.sh); without it, prints the reason to stderr and exits 1.
"""
import torch_coprocess

torch = torch_coprocess.import_torch("bench_mlp_torch.py")
import torch.nn.functional as F  # noqa: E402


def setup(numbers):
    batch, widths = numbers[0], numbers[1:]
    layers = []
    for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(torch.nn.Linear(d_in, d_out))
        if i + 2 < len(widths):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    params = list(model.parameters())
    inputs = torch.rand(batch, widths[0])
    labels = torch.randint(0, widths[-1], (batch,))

    def step():
        loss = F.cross_entropy(model(inputs), labels)
        return torch.autograd.grad(loss, params)

    return step, ""


torch_coprocess.serve(setup)
