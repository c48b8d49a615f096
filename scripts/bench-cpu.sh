#!/usr/bin/env bash
# CPU cost of waiting: 16 workers on this machine, heterogeneity.base_s = 0.1,
# quadratic 32×32, 20 s budget. Prints the whole job's user+sys CPU seconds over its wall seconds, as
# measured by /usr/bin/time -v around mpirun. Target: ≤ 0.2.
# Usage: scripts/bench-cpu.sh [BUILD_DIR] [WORKERS] [BUDGET_S]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
workers=${2:-16}
budget=${3:-20}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mktemp -d)
log=$(mktemp)
/usr/bin/time -v mpirun --oversubscribe -np $((workers + 1)) "$build/ringmaster" train -c configs/quadratic.toml \
  --set heterogeneity.base_s=0.1 --set objective.rows=32 --set objective.cols=32 \
  --set run.time_budget_s="$budget" --out "$out/run" >"$log" 2>&1
user=$(sed -n 's/.*User time (seconds): //p' "$log")
sys=$(sed -n 's/.*System time (seconds): //p' "$log")
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
arrivals=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['arrivals'])" "$out/run/summary.json" 2>/dev/null || grep -o '"arrivals": [0-9]*' "$out/run/summary.json" | grep -o '[0-9]*$')
awk -v u="$user" -v s="$sys" -v w="$wall" -v n="$workers" -v a="$arrivals" 'BEGIN {
  printf "workers=%d wall=%.2fs user=%.2fs sys=%.2fs cpu/wall=%.3f arrivals=%d\n", n, w, u, s, (u + s) / w, a }'
rm -rf "$out" "$log"
