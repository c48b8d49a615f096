#!/usr/bin/env bash
# The Slurm job scripts against a real Slurm: starts munge, slurmctld and slurmd from a throwaway
# configuration in a temporary directory (scripts/slurm-local.sh), submits the tiny sweep
# (configs/sweeps/tiny.toml: 2 methods × 2 heterogeneity powers on the MPI engine, with a 4-point tuning
# array before it) through `tools/sweep.py slurm`, i.e. jobs/sweep-array.sbatch as job arrays and
# jobs/aggregate.sbatch as the dependent steps, plus one jobs/run.sbatch run with mpirun inside the
# allocation. Asserts that every array task and step ended COMPLETED, per `scontrol show job` and per
# the jobcomp/filetxt log (there is no slurmdbd, so sacct has nothing to read), that every task left its
# output and error files, and that the aggregate (tables, plots) exists. Stops exactly the daemons it
# started.
#
#   tests/test_slurm.sh RINGMASTER_BINARY
#
# Exit 77 (ctest: skipped) without root: slurmd must run jobs as their users and munged as user munge.
set -euo pipefail

if (($# != 1)); then
  echo "usage: $0 RINGMASTER_BINARY" >&2
  exit 2
fi
binary=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)

if ((EUID != 0)); then
  echo "SKIP: test_slurm needs root to start munged (as user munge), slurmctld and slurmd; CI runs it as root"
  exit 77
fi
for program in munged slurmctld slurmd sbatch scontrol srun /usr/bin/python3; do
  if ! command -v "$program" >/dev/null; then
    echo "FAIL: $program is missing: scripts/bootstrap.sh installs slurm-wlm, munge and python3-matplotlib" >&2
    exit 1
  fi
done

work=$(mktemp -d /tmp/ringmaster-slurm-test.XXXXXX)
chmod 755 "$work"  # munged runs as user munge and must reach its directory inside
cluster=$work/slurm
sweep=$work/sweep
cleanup() {
  "$root/scripts/slurm-local.sh" stop "$cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for f in "$cluster"/log/*.log; do
    [[ -f $f ]] && { echo "--- $f (last lines)" >&2; tail -n 15 "$f" >&2; }
  done
  for f in "$sweep"/logs/*; do
    [[ -s $f ]] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}

"$root/scripts/slurm-local.sh" start "$cluster"
export SLURM_CONF=$cluster/slurm.conf
# The ranks inherit the environment of sbatch; a sanitizer build's leak checker would report MPI's
# deliberate leaks at exit.
export ASAN_OPTIONS=detect_leaks=0

begin=$SECONDS
/usr/bin/python3 "$root/tools/sweep.py" slurm "$root/configs/sweeps/tiny.toml" --dir "$sweep" --binary "$binary" ||
  fail "tools/sweep.py slurm"
# One more job: a single run through jobs/run.sbatch with mpirun as the launcher.
run_job=$(cd "$work" && RINGMASTER_BIN=$binary RINGMASTER_LAUNCHER=mpirun sbatch --parsable --ntasks=3 \
  --output="$work/run-%j.out" --error="$work/run-%j.err" "$root/jobs/run.sbatch" \
  "$root/configs/quadratic.toml" --set run.time_budget_s=1 --set objective.rows=16 --set objective.cols=16 \
  --out "$work/single-run") || fail "sbatch jobs/run.sbatch"

# Job ids from the submission record.
read -r tune choose compare report < <(/usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j["tune"][0], j["choose"], j["compare"][0], j["report"])' "$sweep/slurm-jobs.json")
echo "jobs: tune array $tune, choose $choose, compare array $compare, report $report, run $run_job"

# Wait until nothing is queued or running (every job, the dependent ones included, has ended).
deadline=$((SECONDS + 300))
while [[ -n $(squeue -h -o %i) ]]; do
  ((SECONDS < deadline)) || { squeue >&2; fail "jobs still queued or running after 300 s"; }
  sleep 1
done
echo "all jobs ended after $((SECONDS - begin)) s"

# Every array task and every step COMPLETED, per scontrol (finished jobs are kept for MinJobAge).
states() { scontrol show job "$1" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
expect_completed() {
  local job=$1 count=$2 what=$3 got
  got=$(states "$job")
  [[ $(grep -c . <<<"$got") == "$count" ]] || fail "$what (job $job): expected $count tasks, scontrol shows: $got"
  if grep -qv '^COMPLETED$' <<<"$got"; then fail "$what (job $job): not all COMPLETED: $(tr '\n' ' ' <<<"$got")"; fi
  echo "ok: $what: $count x COMPLETED (scontrol)"
}
expect_completed "$tune" 4 "tuning array"
expect_completed "$choose" 1 "choose step"
expect_completed "$compare" 4 "comparison array"
expect_completed "$report" 1 "report step"
expect_completed "$run_job" 1 "single run (jobs/run.sbatch, mpirun)"

# The same from the job completion log: one line per task, JobState=COMPLETED and ExitCode=0:0.
comp=$cluster/jobcomp.txt
for array in "$tune" "$compare"; do
  n=$(grep -E "ArrayJobId=$array " "$comp" | grep -c 'JobState=COMPLETED .*ExitCode=0:0' || true)
  [[ $n == 4 ]] || fail "jobcomp.txt: $n of 4 tasks of array $array COMPLETED with exit 0"
done
echo "ok: jobcomp.txt records 8 array tasks COMPLETED with exit code 0"

# Output and error files, one pair per task.
for phase in tune compare; do
  for task in 0 1 2 3; do
    id=$([[ $phase == tune ]] && echo "$tune" || echo "$compare")
    for ext in out err; do
      [[ -f $sweep/logs/$phase-${id}_$task.$ext ]] || fail "missing $sweep/logs/$phase-${id}_$task.$ext"
    done
    grep -q "done\|already finished" "$sweep/logs/$phase-${id}_$task.out" || fail "task $phase $task did not report a run"
  done
done
echo "ok: output and error files of all 8 tasks"

# The runs and the aggregate.
[[ -f $sweep/tuned.json ]] || fail "no tuned.json"
runs=$(find "$sweep/runs" -name summary.json | wc -l)
[[ $runs == 4 ]] || fail "expected 4 comparison runs with summary.json, found $runs"
for f in tiny.csv tiny.md tiny-speedup.csv tiny-loss-vs-time.png tiny-speedup.png; do
  [[ -s $sweep/report/$f ]] || fail "aggregate missing: report/$f"
done
rows=$(($(wc -l <"$sweep/report/tiny.csv") - 1))
[[ $rows == 4 ]] || fail "report/tiny.csv has $rows rows, expected 4 (2 methods x 2 powers)"
grep -q "incomplete" "$sweep/report/tiny.md" && fail "report says the sweep is incomplete"
[[ -f $work/single-run/summary.json ]] || fail "jobs/run.sbatch left no summary.json"
grep -q '"engine": "mpi"' "$work/single-run/summary.json" || fail "jobs/run.sbatch: not an MPI run"
grep -q '"n_workers": 2' "$work/single-run/summary.json" || fail "jobs/run.sbatch: expected 2 workers (3 tasks)"
head -n 1 "$(find "$sweep/runs" -name run.log | head -n 1)" | grep -q '^\$ srun --mpi=pmix' ||
  fail "the array tasks did not start their ranks with srun --mpi=pmix"
echo "ok: tuned.json, 4 runs, the aggregate (report/tiny.{csv,md}, plots) and the single run exist"
echo "PASS: test_slurm in $((SECONDS - begin)) s"
