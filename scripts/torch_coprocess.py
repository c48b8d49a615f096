"""What the PyTorch sides of `ringmaster bench mlp` and `bench gpt` share (scripts/bench_mlp_torch.py,
scripts/bench_gpt_torch.py): importing torch on one thread, and the line protocol with the C++ side
(src/bench_torch.hpp), which runs the script as a co-process so that both take turns in the same stretch of time.

Protocol, one line each way (stdin / stdout):
  setup N...   ->  ok [WORDS]   (the script's setup builds the model and a random batch; 5 warm-up steps)
  run K        ->  SECONDS      (K forward+backward steps, timed with perf_counter)
  quit
"""
import sys
import time


def import_torch(script):
    """torch on one thread (torch.set_num_threads(1)), seeded; without Debian's python3-torch, says so on stderr
    and exits 1."""
    try:
        import torch
    except ImportError as e:
        print(f"{script}: {e}; install python3-torch (scripts/bootstrap.sh) and run with /usr/bin/python3",
              file=sys.stderr)
        sys.exit(1)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    return torch


def serve(setup):
    """Answers the protocol until quit. setup(numbers) returns (step, words): step() is one timed pass, words
    what to say after "ok"."""
    step = None
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        if words[0] == "setup":
            step, reply = setup([int(w) for w in words[1:]])
            for _ in range(5):
                step()
            print(f"ok {reply}".strip(), flush=True)
        elif words[0] == "run":
            k = int(words[1])
            begin = time.perf_counter()
            for _ in range(k):
                step()
            print(repr(time.perf_counter() - begin), flush=True)
