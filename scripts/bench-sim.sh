#!/usr/bin/env bash
# Simulator throughput: arrivals per wall second of
# `ringmaster simulate` on the quadratic with 16 workers, sqrt profile, method ringmaster, for 64×64 and
# 256×256, with the default sim.threads (every core) and with one thread. In the same run, the
# Newton–Schulz LMO alone on one BLAS thread (what each simulator thread runs) gives the reference:
# one LMO per accepted arrival, so one thread cannot beat it, and two can at most double it.
# This machine's speed drifts by tens of percent over minutes, so each figure is the best and the
# median of REPEATS runs (default 3). Usage: scripts/bench-sim.sh [BUILD_DIR] [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
repeats=${2:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for spec in "64 60" "256 8"; do
  read -r n budget <<<"$spec"
  for threads in 0 1; do
    for ((i = 0; i < repeats; i++)); do
      "$build/ringmaster" simulate -c configs/quadratic.toml --set run.workers=16 --set heterogeneity.profile=sqrt \
        --set run.method=ringmaster --set objective.rows="$n" --set objective.cols="$n" \
        --set run.time_budget_s="$budget" --set sim.threads="$threads" --out "$out/$n-$threads-$i" >/dev/null 2>&1
    done
  done
  OPENBLAS_NUM_THREADS=1 "$build/ringmaster" bench lmo --shape "${n}x${n}" --json >"$out/lmo-$n.json" 2>/dev/null
  python3 - "$out" "$n" "$repeats" "$(nproc)" <<'PY'
import json, statistics, sys
from pathlib import Path
out, n, repeats, cores = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
lmo = [r for r in json.load(open(out / f"lmo-{n}.json"))["results"] if r["backend"] == "newton-schulz"][0]
lmo_rate = 1 / lmo["seconds"]
def rates(threads):
    runs = [json.load(open(out / f"{n}-{threads}-{i}" / "summary.json")) for i in range(repeats)]
    return runs[0]["arrivals"], [s["arrivals"] / s["wall_time_s"] for s in runs]
arrivals, all_cores = rates(0)
_, one = rates(1)
print(f"{n}x{n}: {arrivals} arrivals per run; Newton-Schulz alone on one BLAS thread: {lmo_rate:,.0f} LMO/s")
for name, r in ((f"sim.threads = 0 ({cores} cores)", all_cores), ("sim.threads = 1", one)):
    print(f"  {name:28s} best {max(r):8,.0f} arrivals/s  median {statistics.median(r):8,.0f}  "
          f"(best ÷ one-thread LMO/s = {max(r) / lmo_rate:.2f})")
PY
done
