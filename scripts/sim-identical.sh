#!/usr/bin/env bash
# Do two `ringmaster` binaries simulate the same thing? Runs each case below with binary A and binary B
# and compares what the runs wrote (docs/method.md §8): eval.csv, events.csv, delays.csv, workers.csv
# byte for byte; eval_windows.csv without its compute_s column (real seconds); summary.json without
# run_id, wall_time_s and eval_time_s (real seconds). A change to how the simulator runs (not what it
# computes) must pass it against the binary from before the change (docs/benchmarks.md, "Simulator at
# 6,174 workers"). The cases cover every method, both stale modes, every fault, the noise and outage
# models, one and two LMO threads, a resumed run, the MLP, and 6,174 workers.
#
# Usage: scripts/sim-identical.sh BINARY_A BINARY_B [--set key=value]...
#   (--set overrides are added to B's runs only, e.g. --set run.log_interrupts=rows to check that a
#   key's value reproduces A's files.) Prints one line per case and `N identical, N differ`; exits 1
#   when any case differs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 2 ]]; then
  echo "usage: $0 BINARY_A BINARY_B [--set key=value]..." >&2
  exit 2
fi
a=$(realpath "$1")
b=$(realpath "$2")
shift 2
extra=("$@")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

q="-c configs/quadratic.toml --set run.workers=16 --set run.time_budget_s=4 --set run.log_every_s=100"
big="-c configs/quadratic.toml --set run.workers=6174 --set objective.rows=1729 --set objective.cols=1 \
  --set objective.mu=0 --set objective.rhs=e1 --set lmo.vector_geometry=l2 --set heterogeneity.profile=sqrt \
  --set run.time_budget_s=1 --set run.log_every_s=100"
cases=(
  "ringmaster|$q"
  "ringmaster-discard|$q --set method.stale=discard"
  "ringmaster-one-thread|$q --set sim.threads=1"
  "ringmaster-pa|$q --set run.method=ringmaster-pa --set method.stepsize=0.5"
  "ringmaster-pa-discard|$q --set run.method=ringmaster-pa --set method.stepsize=0.5 --set method.stale=discard"
  "ringmaster-sgd|$q --set run.method=ringmaster-sgd --set method.stepsize=0.1"
  "ringmaster-sgd-discard|$q --set run.method=ringmaster-sgd --set method.stepsize=0.1 --set method.stale=discard"
  "async|$q --set run.method=async --set method.stepsize=0.005"
  "async-delay-adaptive|$q --set run.method=async-delay-adaptive"
  "rennala|$q --set run.method=rennala --set method.batch=6"
  "sync|$q --set run.method=sync --set heterogeneity.profile=linear"
  "fault-nan|$q --set fault.inject=nan --set fault.inject_workers=[1,3] --set fault.inject_after=5"
  "fault-truncate-rennala|$q --set run.method=rennala --set fault.inject=truncate --set fault.inject_workers=[2]"
  "fault-hang-timeout|$q --set fault.inject=hang --set fault.inject_workers=[1] --set fault.inject_after=20 --set fault.worker_timeout_s=0.3"
  "fault-hang-sync|$q --set run.method=sync --set fault.inject=hang --set fault.inject_workers=[4] --set fault.inject_after=3 --set fault.worker_timeout_s=0.5"
  "exponential-outages|$q --set heterogeneity.noise=exponential --set heterogeneity.noise_scale=0.5 --set heterogeneity.outage_rate=2 --set heterogeneity.outage_s=0.05"
  "lognormal-power|$q --set heterogeneity.noise=lognormal --set heterogeneity.noise_scale=1 --set heterogeneity.profile=power --set heterogeneity.power=1.5"
  "multiplicative|$q --set heterogeneity.mode=multiplicative --set heterogeneity.compute_s=0.01"
  "compute-time-max-updates|$q --set heterogeneity.compute_s=0.004 --set run.max_updates=150"
  "mlp|-c configs/fashion_mnist.toml --set heterogeneity.compute_s=0.002 --set run.time_budget_s=1 --set run.eval_every_s=0.5 --set run.log_every_s=100"
  "n6174-ringmaster|$big"
  "n6174-discard|$big --set method.stale=discard --set run.time_budget_s=0.5"
  "n6174-rennala|$big --set run.method=rennala --set method.batch=64 --set run.time_budget_s=0.5"
)
# A run stopped at its time budget, then resumed with a longer one (the checkpoint, the cut-back CSV
# files, epoch-1 streams).
resume_case="resume|$q --set run.time_budget_s=2"

same=0
differ=0
compare() {  # compare NAME DIR_A DIR_B
  if python3 - "$2" "$3" <<'PY'; then
import csv, json, sys
from pathlib import Path
a, b = Path(sys.argv[1]), Path(sys.argv[2])
bad = []
for name in ("eval.csv", "events.csv", "delays.csv", "workers.csv"):
    if (a / name).read_bytes() != (b / name).read_bytes():
        bad.append(name)
def windows(d):
    return [r[:4] for r in csv.reader(open(d / "eval_windows.csv"))]
if windows(a) != windows(b):
    bad.append("eval_windows.csv")
def summary(d):
    s = json.load(open(d / "summary.json"))
    for k in ("run_id", "wall_time_s", "eval_time_s"):
        s.pop(k, None)
    return s
if summary(a) != summary(b):
    bad.append("summary.json")
if bad:
    print("differ: " + ", ".join(bad), end="")
    sys.exit(1)
PY
    printf '  %-28s identical\n' "$1"
    same=$((same + 1))
  else
    printf '  (%s)\n' "$1"
    differ=$((differ + 1))
  fi
}

run() {  # run BINARY DIR ARGS... ; prints the log on failure
  local bin=$1 dir=$2
  shift 2
  "$bin" simulate "$@" --out "$dir" >"$dir.log" 2>&1 || { echo "$bin failed:" >&2; tail -3 "$dir.log" >&2; return 1; }
}

for spec in "${cases[@]}"; do
  name=${spec%%|*}
  read -r -a args <<<"${spec#*|}"
  run "$a" "$out/$name-a" "${args[@]}"
  run "$b" "$out/$name-b" "${args[@]}" "${extra[@]}"
  compare "$name" "$out/$name-a" "$out/$name-b"
done

name=${resume_case%%|*}
read -r -a args <<<"${resume_case#*|}"
for side in a b; do
  bin=$a
  more=()
  if [[ $side == b ]]; then bin=$b; more=("${extra[@]}"); fi
  run "$bin" "$out/$name-$side" "${args[@]}" "${more[@]}"
  "$bin" simulate --resume "$out/$name-$side" --set run.time_budget_s=4 "${more[@]}" >>"$out/$name-$side.log" 2>&1
done
compare "$name" "$out/$name-a" "$out/$name-b"

echo "$same identical, $differ differ"
[[ $differ -eq 0 ]]
