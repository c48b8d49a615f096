#!/usr/bin/python3
"""Planning past this machine (docs/benchmarks.md "Planning: workers × server shards").

For each model, measures on this machine what one stochastic gradient costs a worker
(heterogeneity.compute_s = "measure") and what one update costs the slowest of S server shards
(heterogeneity.server_update_s = "measure" with server.shards = S: each shard's update on its own blocks,
in CPU seconds). Then predicts, with the simulator, the updates per second of the model's configuration
(its method, R, heterogeneity profile) for n workers and S shards, and the server's busy fraction: where
it reaches ~1 the server is the bottleneck and more workers add nothing.

Decisions (accept / discard / interrupt) depend on arrival times only, never on gradient values, so the
prediction runs the configuration's timing on a one-parameter stand-in objective (a 1×1 quadratic) with
the measured costs as virtual time: the same updates per second as the model itself, at millions of
events per second instead of one real gradient per arrival.

Not modelled: the network. Each update moves a gradient slice in and at least one point slice out of every
shard (2 · bytes(x) / S); the table prints that, and the time it takes at a stated link rate, beside the
update time — on one node (shared memory) the copy is inside the measured update.

R: with a fixed threshold R, Ringmaster applies at most ~R updates per gradient time however many workers
there are (a computation that sees R updates is dropped), so the server's load stops growing with n; the
default R = n is the regime where more workers ask more of the server.

A back-end that makes the update cheaper raises the server's ceiling: --backend newton-schulz,gram-newton-schulz
plans each model with today's Newton–Schulz and with its Gram form (docs/method.md §3), one table each, with
the gradient measured once (with the first back-end) and each back-end's own update.

Usage: scripts/plan-shards.py [--build build] [--workers 8,16,...] [--shards 1,2,4,8] [--threshold n|config|R]
                              [--set key=value]... [--model NAME=CONFIG[:key=value,...]]... [--backend A,B]
                              [--markdown]
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODELS = [
    "gpt_tiny=configs/gpt_tiny.toml",
    "gpt_tiny x10 wide=configs/gpt_tiny.toml:objective.gpt.width=640",
]
LINK_GBPS = 100.0  # the network the table's transfer column assumes (100 Gb/s InfiniBand EDR)


def parse_model(text):
    name, _, rest = text.partition("=")
    config, _, sets = rest.partition(":")
    return name, config, [s for s in sets.split(",") if s]


def simulate(binary, config, sets, out):
    cmd = [binary, "simulate", "-c", config, "--out", out, "--force"]
    for s in sets:
        cmd += ["--set", s]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"plan-shards: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    with open(os.path.join(out, "summary.json")) as f:
        return json.load(f), proc.stdout + proc.stderr


def parameter_bytes(config, sets):
    """bytes(x) of a gpt configuration: embedding and head 256 × width each, 12 width² per layer
    (config.cpp's parameter_count), with the --set overrides applied."""
    with open(os.path.join(ROOT, config), "rb") as f:
        gpt = tomllib.load(f).get("objective", {}).get("gpt", {})
    width, layers = gpt.get("width", 64), gpt.get("layers", 2)
    for s in sets:
        key, _, value = s.partition("=")
        if key == "objective.gpt.width":
            width = int(value)
        if key == "objective.gpt.layers":
            layers = int(value)
    return 4 * (2 * 256 * width + 12 * layers * width * width)


def measure(binary, config, sets, shards, work, compute_s=None):
    """compute_s (unless given: a gradient costs the same whatever the back-end) and the slowest shard's
    update_s for each S, measured by the simulator itself."""
    costs = {}
    for s in shards:
        out = os.path.join(work, f"measure-{s}")
        gradient = "measure" if compute_s is None else repr(compute_s)
        summary, log = simulate(binary, config, sets + [
            f"heterogeneity.compute_s={gradient}", "heterogeneity.server_update_s=measure", f"server.shards={s}",
            "run.max_updates=1", "run.eval_every_s=1e9"], out)
        costs[s] = summary["server_update_s"]
        compute_s = summary["compute_s"] if compute_s is None else compute_s
    return compute_s, costs


def predict(binary, config, sets, workers, compute_s, update_s, horizon_s, threshold, work):
    out = os.path.join(work, f"plan-{workers}")
    r = [f"method.threshold={workers if threshold == 'n' else threshold}"] if threshold != "config" else []
    summary, _ = simulate(binary, config, sets + r + [
        "objective.kind=quadratic", "objective.rows=1", "objective.cols=1", "objective.blocks=1",
        f"run.workers={workers}", f"heterogeneity.compute_s={compute_s!r}",
        f"heterogeneity.server_update_s={update_s!r}", "server.shards=1",
        f"run.time_budget_s={horizon_s!r}", f"run.eval_every_s={horizon_s!r}", "run.log_interrupts=counts",
        "run.max_updates=0", "run.target_loss=0"], out)
    t = summary["train_time_s"]
    return summary["updates"] / t, summary["server_busy_fraction"]


def plan(binary, name, config, sets, workers, shards, args, work, compute_s=None):
    """Measures one model's costs (its gradient's unless compute_s is given) and prints its table of
    predictions; returns compute_s."""
    compute_s, costs = measure(binary, config, sets, shards, work, compute_s)
    horizon = args.horizon_gradients * compute_s
    x_bytes = parameter_bytes(config, sets)
    print(f"\n### {name} ({config}{' ' + ' '.join(sets) if sets else ''})\n")
    print(f"measured here: a gradient {compute_s * 1e3:.3g} ms; an update on the slowest shard "
          + ", ".join(f"S={s}: {costs[s] * 1e3:.3g} ms" for s in shards)
          + f"; prediction horizon {horizon:.4g} virtual s. bytes(x) = {x_bytes / 2**20:.3g} MiB: per update "
          + "each shard moves 2 · bytes(x) / S, at " + f"{LINK_GBPS:g} Gb/s "
          + ", ".join(f"S={s}: {2 * x_bytes / s / (LINK_GBPS / 8 * 1e9) * 1e3:.3g} ms" for s in shards)
          + " (not in the prediction)\n")
    head = ["workers"] + [f"S={s} updates/s (busy)" for s in shards] + ["no server cost"]
    rows = []
    for n in workers:
        row = [str(n)]
        for s in shards:
            rate, busy = predict(binary, config, sets, n, compute_s, costs[s], horizon, args.threshold, work)
            mark = " *" if busy >= 0.9 else ""
            row.append(f"{rate:.4g} ({busy:.2f}){mark}")
        rate, _ = predict(binary, config, sets, n, compute_s, 0.0, horizon, args.threshold, work)
        row.append(f"{rate:.4g}")
        rows.append(row)
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
        for r in [head] + rows:
            print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    print("\n(busy): the server's busy fraction; * the server is the bottleneck (busy ≥ 0.9).")
    for s in shards:
        cap = 1.0 / costs[s]
        print(f"S={s}: at most {cap:.4g} updates/s (1 / update time).")
    return compute_s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--build", default="build")
    ap.add_argument("--workers", default="8,16,32,64,128,256,512,1024")
    ap.add_argument("--shards", default="1,2,4,8")
    ap.add_argument("--model", action="append", help="NAME=CONFIG[:key=value,...] (default: gpt_tiny and 10x wide)")
    ap.add_argument("--horizon-gradients", type=float, default=2000.0,
                    help="virtual time of each prediction, in units of one gradient's compute (default 2000)")
    ap.add_argument("--threshold", default="n",
                    help="R of the predictions: n (= the number of workers, the default), config, or a number")
    ap.add_argument("--set", action="append", default=[], dest="sets",
                    help="key=value for every run of every model (e.g. heterogeneity.profile=sqrt)")
    ap.add_argument("--backend", default="",
                    help="spectral back-ends (lmo.backend) to plan with, comma-separated: each model is measured and "
                    "predicted once per back-end, e.g. newton-schulz,gram-newton-schulz (default: the config's)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    binary = os.path.join(ROOT, args.build, "ringmaster")
    workers = [int(w) for w in args.workers.split(",")]
    shards = [int(s) for s in args.shards.split(",")]
    backends = args.backend.split(",") if args.backend else [None]
    with tempfile.TemporaryDirectory(prefix="plan-shards-") as work:
        for text in args.model or DEFAULT_MODELS:
            name, config, sets = parse_model(text)
            compute_s = None  # measured with the first back-end, then the same for the others
            for backend in backends:
                backend_set = [f"lmo.backend={backend}"] if backend else []
                compute_s = plan(binary, name, config, args.sets + sets + backend_set, workers, shards, args, work,
                                 compute_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
