#!/usr/bin/env bash
# Runtime efficiency (docs/benchmarks.md "Runtime efficiency: MPI against the simulator"): for the same
# configuration and seed (so the same seeded delays per worker, docs/method.md §5), the updates an MPI
# run completes in BUDGET seconds of wall clock ÷ the updates the simulator completes in BUDGET seconds
# of virtual time. The simulator is the ideal: messages, wake-ups and polling cost it nothing.
#
# Cases (any of them, in order; default: quadratic gpt server-bound):
#   quadratic     16 workers, configs/quadratic.toml (64×64), heterogeneity.base_s = 0.02.
#   gpt           8 workers, configs/gpt_tiny.toml (multiplicative: worker i takes i × its compute).
#   server-bound  4 workers, quadratic 1024×64, base_s = 0.0005: a gradient and its delay take ~1 ms, the
#                 server's update (a Newton–Schulz on 1024×64) ~1.5 ms: the server cannot keep up. The
#                 simulator charges heterogeneity.server_update_s = "measure" (its prediction), and
#                 again the MPI server's own seconds per update (busy fraction × time ÷ updates: the
#                 queue model given the cost the MPI server really paid).
# What the simulator is told about compute, so that both runs mean the same by one gradient: the MPI
# workers' compute is real (on 2 cores shared by all ranks), so the simulator is given
# heterogeneity.compute_s = the mean compute_s of the MPI run's delays.csv (the compute the workers
# actually took; in multiplicative mode each worker's injected delay is (s_i − 1) × that compute, so
# this is the fair "same delays"). The ratio then measures what the runtime loses around the compute.
#
# For the MPI run it also prints where the time goes, per gradient: from the server handing a worker its
# point (its previous arrival, or an interrupt) to the gradient's arrival, less its compute and injected
# delay (delays.csv) = the runtime's overhead per gradient (the point's message, waking the worker, its
# oversleep, the gradient's message, the server's poll and queue). And the machine's load (uptime) before each case.
#
# Usage: scripts/bench-efficiency.sh [CASE]... [-- --set key=value ...]   (sets go to every run of every case)
# Environment: BUILD (default build), BUDGET (seconds, default 30), KEEP=1 keeps the run directories.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
budget=${BUDGET:-30}
cases=()
while [[ $# -gt 0 && $1 != "--" ]]; do
  cases+=("$1")
  shift
done
[[ $# -gt 0 ]] && shift
extra=("$@")
[[ ${#cases[@]} -eq 0 ]] && cases=(quadratic gpt server-bound)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mktemp -d)
trap '[[ ${KEEP:-0} == 1 ]] || rm -rf "$out"' EXIT

for case in "${cases[@]}"; do
  sim_sets=()
  case $case in
    quadratic)
      workers=16
      config=configs/quadratic.toml
      sets=(--set heterogeneity.base_s=0.02)
      ;;
    gpt)
      workers=8
      config=configs/gpt_tiny.toml
      sets=(--set run.eval_every_s=10)
      ;;
    server-bound)
      workers=4
      config=configs/quadratic.toml
      sets=(--set objective.rows=1024 --set objective.cols=64 --set heterogeneity.base_s=0.0005 --set run.eval_every_s=10)
      sim_sets=(--set heterogeneity.server_update_s=measure)
      ;;
    *)
      echo "unknown case '$case' (quadratic, gpt, server-bound)" >&2
      exit 2
      ;;
  esac
  sets+=(--set run.workers=$workers --set run.time_budget_s="$budget" --set run.log_every_s=1000 "${extra[@]}")
  echo "== $case: $workers workers, $budget s; load before: $(uptime | sed 's/.*load average: //')"
  mpirun --oversubscribe -np $((workers + 1)) "$build/ringmaster" train -c "$config" "${sets[@]}" \
    --out "$out/$case-mpi" >"$out/$case-mpi.log" 2>&1 || { cat "$out/$case-mpi.log" >&2; exit 1; }
  load_after=$(uptime | sed 's/.*load average: //')
  compute_s=$(python3 -c "
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(f'{sum(float(r[\"compute_s\"]) for r in rows) / max(len(rows), 1):.9f}')" "$out/$case-mpi/delays.csv")
  "$build/ringmaster" simulate -c "$config" "${sets[@]}" --set heterogeneity.compute_s="$compute_s" "${sim_sets[@]}" \
    --out "$out/$case-sim" >"$out/$case-sim.log" 2>&1 || { cat "$out/$case-sim.log" >&2; exit 1; }
  sims=("$out/$case-sim")
  if [[ ${#sim_sets[@]} -gt 0 ]]; then
    update_s=$(python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))
print(f'{s[\"server_busy_fraction\"] * s[\"train_time_s\"] / max(s[\"updates\"], 1):.9f}')" "$out/$case-mpi/summary.json")
    "$build/ringmaster" simulate -c "$config" "${sets[@]}" --set heterogeneity.compute_s="$compute_s" \
      --set heterogeneity.server_update_s="$update_s" --out "$out/$case-sim-mpi-cost" >"$out/$case-sim-mpi-cost.log" 2>&1 ||
      { cat "$out/$case-sim-mpi-cost.log" >&2; exit 1; }
    sims+=("$out/$case-sim-mpi-cost")
  fi
  python3 - "$out/$case-mpi" "$case" "$load_after" "${sims[@]}" <<'EOF'
import csv, json, statistics, sys
from collections import defaultdict
mpi_dir, case, load_after = sys.argv[1:4]
mpi = json.load(open(f"{mpi_dir}/summary.json"))
for sim_dir in sys.argv[4:]:
    sim = json.load(open(f"{sim_dir}/summary.json"))
    ratio = mpi["updates"] / max(sim["updates"], 1)
    charged = f", charging {sim['server_update_s'] * 1e3:.3f} ms per update" if "server_update_s" in sim else ""
    print(f"{case}: updates MPI {mpi['updates']} in {mpi['train_time_s']:.2f} s, simulator{charged} {sim['updates']} in "
          f"{sim['train_time_s']:.2f} s: ratio {ratio:.3f}  (arrivals {mpi['arrivals']} / {sim['arrivals']}, accepted "
          f"{mpi['accepted']} / {sim['accepted']}, interrupted {mpi['interrupted']} / {sim['interrupted']}; server busy "
          f"{mpi['server_busy_fraction']:.3f} / {sim['server_busy_fraction']:.3f})")
print(f"  simulator compute_s {sim['compute_s'] * 1e3:.3f} ms (the MPI workers' mean); load after: {load_after}")
# Overhead per gradient: from the moment the server handed a worker a point (its accepted or discarded
# arrival, or an interrupt) to its next arrival, less that gradient's compute and injected delay. A
# superseded arrival (a gradient that crossed its interrupt) starts no pair.
events = list(csv.DictReader(open(f"{mpi_dir}/events.csv")))
delays = list(csv.DictReader(open(f"{mpi_dir}/delays.csv")))
arrivals = [e for e in events if e["action"] != "interrupt"]
assert len(arrivals) == len(delays), (len(arrivals), len(delays))
last = {}  # worker -> (when it was last handed a point: its own arrival or an interrupt, which)
pairs = defaultdict(list)
i = 0
for e in events:
    w, t = e["worker"], float(e["time_s"])
    if e["action"] == "interrupt":
        last[w] = (t, "after an interrupt")
        continue
    d = delays[i]  # delays.csv has a row per arrival, in arrival order
    i += 1
    if w in last and e["action"] != "superseded":
        pairs[last[w][1]].append(t - last[w][0] - float(d["compute_s"]) - float(d["injected_s"]))
    if e["action"] in ("accept", "discard"):
        last[w] = (t, "after an arrival")
    else:
        last.pop(w, None)
cycle = statistics.mean(float(d["compute_s"]) + float(d["injected_s"]) for d in delays)
print(f"  MPI: mean compute + injected per gradient {cycle * 1e3:.2f} ms; superseded (crossed their interrupt) "
      f"{mpi['superseded']}; overhead per gradient = from the point handed to the arrival, less compute and injected:")
for kind, values in sorted(pairs.items()):
    if len(values) < 2:
        continue
    q = statistics.quantiles(values, n=20)
    print(f"    {kind}: {len(values)} gradients, mean {statistics.mean(values) * 1e3:.2f} ms "
          f"({statistics.mean(values) / cycle * 100:.1f}% of a gradient), median {statistics.median(values) * 1e3:.2f} ms, "
          f"p5 {q[0] * 1e3:.2f} ms, p95 {q[-1] * 1e3:.2f} ms")
EOF
done
[[ ${KEEP:-0} == 1 ]] && echo "run directories: $out"
exit 0
