#!/usr/bin/env bash
# CPU cost of waiting (docs/benchmarks.md "Waiting without burning CPU"): 16 workers on this machine,
# heterogeneity.base_s = 0.1, quadratic 32×32, 20 s budget. Two figures, apart:
#   steady state  the job's CPU while it trains, in cores: every rank's utime + stime from /proc/PID/stat,
#                 sampled 3 s after rank 0 logged the start and WINDOW seconds
#                 later, over the wall time between the samples; the server (rank 0) and the workers apart.
#   start-up      the rest of the whole job's CPU seconds (user + sys of mpirun and its ranks, from
#                 /usr/bin/time -v): the whole job's less the steady rate × the training time. Start-up and
#                 shutdown of 17 Open MPI processes, the configuration read, the first checkpoint.
# Also the whole job's CPU / wall, the figure this script printed before. Targets: steady ≤ 0.1 core.
# Usage: scripts/bench-cpu.sh [BUILD_DIR] [WORKERS] [BUDGET_S]
# Environment: WINDOW (default 12 s); BASE_S (default 0.1): heterogeneity.base_s (BASE_S=2: workers
# asleep 2–8 s at a time, so the steady state is little but waiting).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
workers=${2:-16}
budget=${3:-20}
window=${WINDOW:-12}
base_s=${BASE_S:-0.1}
if awk -v b="$budget" -v w="$window" 'BEGIN { exit !(b < w + 4) }'; then
  echo "bench-cpu: the budget ($budget s) must exceed WINDOW + 4 s ($window + 4)" >&2
  exit 2
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "load before: $(uptime | sed 's/.*load average: //')"
/usr/bin/time -v -o "$out/time" mpirun --oversubscribe -np $((workers + 1)) "$build/ringmaster" train \
  -c configs/quadratic.toml --set heterogeneity.base_s="$base_s" --set objective.rows=32 --set objective.cols=32 \
  --set run.time_budget_s="$budget" --out "$out/run" >"$out/log" 2>&1 &
job=$!

# The ranks: the ringmaster processes whose parent is this job's mpirun (the child of time).
ranks() {
  local launcher
  launcher=$(ps -o pid= --ppid "$job" | head -1 | tr -d ' ')
  [[ -n $launcher ]] && ps -o pid=,comm= --ppid "$launcher" | awk '$2 == "ringmaster" { print $1 }'
}
# "seconds rank0_ticks workers_ticks": utime + stime of each rank (rank 0 is the one started first).
sample() {
  local pids t
  t=$(date +%s.%N)
  pids=$(ranks | sort -n)
  python3 - "$t" $pids <<'EOF'
import sys
t, pids = sys.argv[1], sys.argv[2:]
def ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of proc(5))
rank_ticks = []
for pid in pids:
    with open(f"/proc/{pid}/environ", "rb") as f:
        env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    rank_ticks.append((int(env.get(b"OMPI_COMM_WORLD_RANK", b"-1")), ticks(pid)))
server = sum(t for r, t in rank_ticks if r == 0)
print(t, server, sum(t for r, t in rank_ticks if r > 0), len(rank_ticks))
EOF
}
# Rank 0 logs "ringmaster with N workers" once every rank has read its configuration, just before the
# start-up handshake; training starts within a second after it.
until grep -q "ringmaster with" "$out/log" 2>/dev/null; do
  kill -0 "$job" 2>/dev/null || { cat "$out/log" >&2; exit 1; }
  sleep 0.1
done
sleep 3
first=$(sample)
sleep "$window"
last=$(sample)
wait "$job" || { cat "$out/log" >&2; exit 1; }

user=$(sed -n 's/.*User time (seconds): //p' "$out/time")
sys=$(sed -n 's/.*System time (seconds): //p' "$out/time")
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$out/time" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
python3 - "$first" "$last" "$user" "$sys" "$wall" "$workers" "$out/run/summary.json" "$(getconf CLK_TCK)" <<'EOF'
import json, sys
first, last = (list(map(float, s.split())) for s in sys.argv[1:3])
user, sys_s, wall = map(float, sys.argv[3:6])
workers, summary, hz = int(sys.argv[6]), json.load(open(sys.argv[7])), float(sys.argv[8])
if first[3] != workers + 1 or last[3] != workers + 1:
    sys.exit(f"bench-cpu: sampled {first[3]:.0f} and {last[3]:.0f} ranks, expected {workers + 1}")
span = last[0] - first[0]
server = (last[1] - first[1]) / hz / span
ranks = (last[2] - first[2]) / hz / span
steady = server + ranks
train = summary["train_time_s"]
startup = user + sys_s - steady * train
print(f"workers={workers} arrivals={summary['arrivals']} wall={wall:.2f}s train={train:.2f}s")
print(f"steady state: {steady:.3f} cores (server {server:.3f}, workers {ranks:.3f}; sampled over {span:.1f} s)")
print(f"start-up and shutdown: {startup:.2f} CPU s (whole job user {user:.2f} s + sys {sys_s:.2f} s "
      f"less {steady:.3f} cores x {train:.2f} s); whole job cpu/wall={(user + sys_s) / wall:.3f}")
EOF
echo "load after: $(uptime | sed 's/.*load average: //')"
