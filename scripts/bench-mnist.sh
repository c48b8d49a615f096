#!/usr/bin/env bash
# The Fashion-MNIST acceptance figures (docs/results.md "Fashion-MNIST", docs/benchmarks.md):
#   1. mpirun -np 9 build/ringmaster train -c configs/fashion_mnist.toml (8 workers, 120 s): the training
#      time at which test accuracy first reached 80/85/88/90%, and the best and final accuracy;
#   2. the shipped MLP's forward+backward against PyTorch's, one thread each, in one run (bench mlp).
# Usage: scripts/bench-mnist.sh [BUILD_DIR]   (default build; run as root needs the OMPI_* variables set here)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mpirun --oversubscribe -np 9 "$build/ringmaster" train -c configs/fashion_mnist.toml --out "$out/run" \
  >"$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }
/usr/bin/python3 - "$out/run/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
reached = ", ".join(f"{a}: {'not reached' if t is None else f'{t:.1f} s'}" for a, t in s["time_to_accuracy"].items())
print(f"train (mpirun -np 9, {s['train_time_s']:.0f} s): time to test accuracy {reached}; "
      f"best {s['best_accuracy']:.4f}, final {s['final_accuracy']:.4f}; {s['updates']} updates, "
      f"{s['arrivals']} arrivals, server busy {s['server_busy_fraction']:.2f}")
PY
"$build/ringmaster" bench mlp --hidden 128 --batch 128 --batch 64
