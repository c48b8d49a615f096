#!/usr/bin/env bash
# Does a slow evaluation stall the MPI server? (docs/method.md §7, docs/benchmarks.md "Serving during
# evaluations".) Runs one MPI job and prints the server's arrival-serving rate (events.csv rows other
# than interrupts, per second of training clock) inside evaluation windows (eval_windows.csv: when each
# evaluation's computation started and finished) and outside them, and the ratio inside / outside.
# A binary from before eval_windows.csv evaluated inline and stopped serving meanwhile (its training
# clock excluded evaluations): for it the script prints the rate outside, the evaluation seconds, and
# arrivals per wall second, the one figure comparable across both.
#
# Usage: scripts/bench-eval.sh CONFIG [--set key=value]...
# Environment: BUILD (build directory, default build), WORKERS (default 3), KEEP=1 keeps the run directory.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 1 ]]; then
  echo "usage: $0 CONFIG [--set key=value]..." >&2
  exit 2
fi
config=$1
shift
build=${BUILD:-build}
workers=${WORKERS:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mktemp -d)
trap '[[ ${KEEP:-0} == 1 ]] || rm -rf "$out"' EXIT
mpirun --oversubscribe -np $((workers + 1)) "$build/ringmaster" train -c "$config" "$@" --out "$out/run" \
  >"$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }
[[ ${KEEP:-0} == 1 ]] && echo "run directory: $out/run"
python3 - "$out/run" <<'EOF'
import csv, json, os, sys
run = sys.argv[1]
summary = json.load(open(os.path.join(run, "summary.json")))
train, wall = summary["train_time_s"], summary["wall_time_s"]
times = [float(r["time_s"]) for r in csv.DictReader(open(os.path.join(run, "events.csv"))) if r["action"] != "interrupt"]
print(f"arrivals={len(times)} train_time_s={train:.2f} wall_time_s={wall:.2f} eval_time_s={summary['eval_time_s']:.2f} "
      f"arrivals_per_wall_s={len(times) / wall:.1f}")
path = os.path.join(run, "eval_windows.csv")
if not os.path.exists(path):
    # Inline evaluation: the server serves nothing while it evaluates, and the clock stops meanwhile.
    print(f"no eval_windows.csv: inline evaluation, 0 arrivals served during {summary['eval_time_s']:.2f} s of "
          f"evaluation; outside: {len(times) / train:.1f}/s; ratio=0")
    sys.exit(0)
# Windows that end within the run (the final evaluation has none: it runs after the workers stopped).
windows = [(float(r["started_s"]), min(float(r["finished_s"]), train))
           for r in csv.DictReader(open(path)) if float(r["finished_s"]) > float(r["started_s"])]
inside_s = sum(max(0.0, b - a) for a, b in windows)
inside = sum(1 for t in times if any(a <= t <= b for a, b in windows))
outside_s = train - inside_s
rate_in = inside / inside_s if inside_s > 0 else float("nan")
rate_out = (len(times) - inside) / outside_s if outside_s > 0 else float("nan")
print(f"evaluations={len(windows)} inside: {inside} arrivals in {inside_s:.2f} s = {rate_in:.1f}/s; "
      f"outside: {len(times) - inside} in {outside_s:.2f} s = {rate_out:.1f}/s; ratio={rate_in / rate_out:.2f}")
EOF
