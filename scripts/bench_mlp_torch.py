#!/usr/bin/python3
"""The PyTorch side of `ringmaster bench mlp` (src/bench_mlp.cpp), which runs it as a co-process so that the
two implementations take turns in the same stretch of time. One thread (torch.set_num_threads(1)),
float32, an nn.Sequential of Linear and ReLU layers, autograd forward and backward of F.cross_entropy.

Protocol, one line each way (stdin / stdout):
  setup B d_0 d_1 ... d_L   ->  ok          (builds the model and a random batch, warms up)
  run K                     ->  SECONDS     (K forward+backward passes, timed with perf_counter)
  quit
Needs Debian's python3-torch (scripts/bootstrap.sh); without it, prints the reason to stderr and exits 1.
"""
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print(f"bench_mlp_torch.py: {e}; install python3-torch (scripts/bootstrap.sh) and run with /usr/bin/python3",
          file=sys.stderr)
    sys.exit(1)

torch.set_num_threads(1)
torch.manual_seed(0)
model = inputs = labels = params = None


def step():
    loss = F.cross_entropy(model(inputs), labels)
    return torch.autograd.grad(loss, params)


for line in sys.stdin:
    words = line.split()
    if not words or words[0] == "quit":
        break
    if words[0] == "setup":
        batch, widths = int(words[1]), [int(w) for w in words[2:]]
        layers = []
        for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(torch.nn.Linear(d_in, d_out))
            if i + 2 < len(widths):
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers)
        params = list(model.parameters())
        inputs = torch.rand(batch, widths[0])
        labels = torch.randint(0, widths[-1], (batch,))
        for _ in range(5):
            step()
        print("ok", flush=True)
    elif words[0] == "run":
        k = int(words[1])
        begin = time.perf_counter()
        for _ in range(k):
            step()
        print(repr(time.perf_counter() - begin), flush=True)
