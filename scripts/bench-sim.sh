#!/usr/bin/env bash
# Simulator throughput: arrivals per wall second of
# `ringmaster simulate` on the quadratic with 16 workers, sqrt profile, method ringmaster, for 64×64 and
# 256×256, with the default sim.threads (every core) and with one thread. In the same run, the
# Newton–Schulz LMO alone on one BLAS thread (what each simulator thread runs) gives the reference:
# one LMO per accepted arrival, so one thread cannot beat it, and two can at most double it.
# This machine's speed drifts by tens of percent over minutes, so each figure is the best and the
# median of REPEATS runs (default 3). Usage: scripts/bench-sim.sh [BUILD_DIR] [REPEATS]
#
# scripts/bench-sim.sh --workers-6174 [BUILD_DIR] [REPEATS] [OLD]: events (arrivals + interrupts) per
# wall second at 6,174 workers (d = 1729 vector quadratic, rhs e1, μ = 0, l2, ringmaster R = 4, sqrt
# profile, 10 virtual seconds: ~3.4 million events), with run.log_interrupts = "rows" and "counts" —
# every file a sweep point writes. With OLD (a binary, or a git ref built here in a temp directory),
# the old binary (rows: it has no choice) runs interleaved with the new one, and each pair's ratio is
# printed. Events/s is summary.json's (arrivals + interrupted) / wall_time_s (the run itself); the
# process's seconds (start-up included: 6,174 seeded random streams) are printed beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${1:-} == --workers-6174 ]]; then
  shift
  build=${1:-build}
  repeats=${2:-3}
  old=${3:-}
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  if [[ -n $old && ! -x $old ]]; then
    echo "building $old in $out/old-src (ringmaster target only) ..." >&2
    mkdir -p "$out/old-src"
    git archive "$old" | tar -x -C "$out/old-src"
    cmake -S "$out/old-src" -B "$out/old-build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$out/old-build" -j2 --target ringmaster >/dev/null
    old=$out/old-build/ringmaster
  fi
  args=(-c configs/quadratic.toml --set run.workers=6174 --set objective.rows=1729 --set objective.cols=1
    --set objective.mu=0 --set objective.rhs=e1 --set lmo.vector_geometry=l2 --set run.method=ringmaster
    --set method.threshold=4 --set heterogeneity.profile=sqrt --set run.time_budget_s=10 --set run.log_every_s=100)
  sides=(new-rows new-counts)
  [[ -n $old ]] && sides=(old-rows new-rows new-counts)
  for ((i = 0; i < repeats; i++)); do
    for side in "${sides[@]}"; do
      bin=$build/ringmaster
      [[ $side == old-* ]] && bin=$old
      more=()
      [[ $side == new-* ]] && more=(--set run.log_interrupts="${side#new-}")
      begin=$(date +%s.%N)
      "$bin" simulate "${args[@]}" "${more[@]}" --out "$out/$side-$i" >/dev/null 2>&1
      echo "$begin $(date +%s.%N)" >"$out/$side-$i.process"
    done
  done
  python3 - "$out" "$repeats" "${sides[@]}" <<'PY'
import json, statistics, sys
from pathlib import Path
out, repeats, sides = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
rate, process = {}, {}
for side in sides:
    rate[side], process[side] = [], []
    for i in range(repeats):
        s = json.load(open(out / f"{side}-{i}" / "summary.json"))
        rate[side].append((s["arrivals"] + s["interrupted"]) / s["wall_time_s"])
        begin, end = map(float, (out / f"{side}-{i}.process").read_text().split())
        process[side].append(end - begin)
s = json.load(open(out / f"{sides[-1]}-0" / "summary.json"))
print(f"6,174 workers, 10 virtual s: {s['updates']:,} updates, {s['arrivals']:,} arrivals, "
      f"{s['interrupted']:,} interrupts; {repeats} interleaved runs each")
for side in sides:
    events = (out / f"{side}-0" / "events.csv").stat().st_size
    print(f"  {side:11s} events/s best {max(rate[side]) / 1e6:6.2f}M  median {statistics.median(rate[side]) / 1e6:6.2f}M"
          f"   process s median {statistics.median(process[side]):6.2f}   events.csv {events / 1e6:6.1f} MB")
if "old-rows" in sides:
    for side in ("new-rows", "new-counts"):
        ratios = [n / o for n, o in zip(rate[side], rate["old-rows"])]
        wall = [o / n for n, o in zip(process[side], process["old-rows"])]
        print(f"  {side} / old-rows, pair by pair: events/s x{min(ratios):.1f}-{max(ratios):.1f} "
              f"(median x{statistics.median(ratios):.1f}); process seconds x{statistics.median(wall):.1f} fewer")
PY
  exit 0
fi
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
