#!/usr/bin/env bash
# The sharded server (docs/benchmarks.md "Sharded server", docs/method.md §7 "Sharded server"): updates
# per second of training time with server.shards = 2 against 1, same configuration, seed and workers
# (S = 1: workers + 1 ranks; S = 2: workers + 2 ranks), runs interleaved (1, 2, 1, 2, ...) so that
# a change in the machine's load hits both alike. The default case is server-bound: cheap gradients
# (base_s small) and an update of 4 spectral 512×512 blocks (Newton–Schulz, ~0.3 GFLOP each).
#
# Prints per run: updates, training seconds, updates/s, the server's busy fraction (rank 0), and the
# load average before it; then the mean updates/s of each S and their ratio.
#
# Usage: scripts/bench-shards.sh [-- --set key=value ...]   (sets go to every run)
# Environment: BUILD (default build), BUDGET (training seconds per run, default 10), REPS (pairs,
# default 3), WORKERS (default 4), KEEP=1 keeps the run directories.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
budget=${BUDGET:-10}
reps=${REPS:-3}
workers=${WORKERS:-4}
[[ ${1:-} == "--" ]] && shift
extra=("$@")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
[[ ${KEEP:-0} == 1 ]] || trap 'rm -rf "$tmp"' EXIT

config=(-c configs/quadratic.toml --set objective.rows=512 --set objective.cols=512 --set objective.blocks=4
        --set heterogeneity.profile=uniform --set heterogeneity.base_s=0.0005 --set run.eval_every_s=1000
        --set run.time_budget_s="$budget" --set run.seed=1)

declare -A total=([1]=0 [2]=0)
echo "budget ${budget}s of training time, ${workers} workers, ${reps} pairs; $(nproc) cores"
for rep in $(seq 1 "$reps"); do
  for shards in 1 2; do
    out="$tmp/s${shards}-r${rep}"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    mpirun --oversubscribe -np $((workers + shards)) "$build/ringmaster" train "${config[@]}" \
      --set server.shards="$shards" "${extra[@]}" --out "$out" >"$out.log" 2>&1 ||
      { echo "run failed: $out.log"; tail -5 "$out.log"; exit 1; }
    rate=$(python3 - "$out/summary.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
rate = s["updates"] / s["train_time_s"]
print(f'{rate:.1f} {s["updates"]} {s["train_time_s"]:.2f} {s["server_busy_fraction"]:.3f}')
EOF
)
    read -r ups updates secs busy <<<"$rate"
    printf 'S=%d rep %d: %6d updates in %6.2fs = %7.1f updates/s  (rank 0 busy %.3f; load before %s)\n' \
      "$shards" "$rep" "$updates" "$secs" "$ups" "$busy" "$load"
    total[$shards]=$(python3 -c "print(${total[$shards]} + $ups)")
  done
done
python3 - "${total[1]}" "${total[2]}" "$reps" <<'EOF'
import sys
one, two, reps = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f"mean updates/s: S=1 {one / reps:.1f}, S=2 {two / reps:.1f}; ratio S=2/S=1 = {two / one:.3f}")
EOF
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
