# The MPI runtime under hostile conditions: stopped and never-resumed
# worker ranks, ranks started with different configurations, gradient messages of the wrong length.
# Each scenario runs a real mpirun job of configs/quadratic.toml (64×64: a point is 16 KB, above Open
# MPI's eager limit, so a send to a rank that does not receive cannot complete).

# Runs `mpirun ... train ARGS...` (as rt_mpi NP ARGS...) in the background with its output in ./log;
# sets JOB to mpirun's own pid (not a subshell's: signals sent to JOB must reach mpirun).
rt10_start() {
  local np=$1
  shift
  mpirun --oversubscribe -np "$np" "$RM" train "$@" >log 2>&1 </dev/null &
  JOB=$!
}

# The pid of MPI rank $2 of the job writing run directory $1 (its environment names the rank).
rt10_rank_pid() {
  local p
  for p in $(pgrep -f "train.*$1"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# The k of the last progress line in ./log (0 if none).
rt10_last_k() { grep -o ' k=[0-9]*' log | tail -1 | tr -dc 0-9 || true; }

# Waits until the progress log shows k > 20 (up to 60 s).
rt10_wait_progress() {
  local i
  for ((i = 0; i < 600; ++i)); do
    (($(rt10_last_k || echo 0) + 0 > 20)) 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no progress within 60 s: $(tail -c 300 log)" >&2
  return 1
}

# Waits up to $1 seconds for the job; RC is its exit code, or 124 (and the job killed: mpirun and the
# ranks it started, its children, by pid) when it hung.
rt10_wait_job() {
  local i
  for ((i = 0; i < $1 * 10; ++i)); do
    if ! kill -0 "$JOB" 2>/dev/null; then
      wait "$JOB"
      RC=$?
      return 0
    fi
    sleep 0.1
  done
  kill -9 $(pgrep -P "$JOB") "$JOB" 2>/dev/null
  wait "$JOB" 2>/dev/null
  RC=124
}

rt10_json() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

# The checkpoint left in ./run resumes: `train --resume` with $1 ranks up to a training time of $2 s
# continues the run (a second epoch in summary.json).
rt10_resumes() {
  rt_mpi "$1" --resume "$PWD/run" --set run.time_budget_s="$2" >resume.log 2>&1 </dev/null ||
    { echo "resume failed: $(tail -c 300 resume.log)" >&2; return 1; }
  [[ $(rt10_json run/summary.json epochs) == 2 ]] || { echo "resume did not continue the run" >&2; return 1; }
}

# SIGSTOP rank 2 while a job runs, then SIGCONT it: k must keep advancing while it is stopped, the job
# must end normally, and the worker must be retired by fault.worker_timeout_s.
#   rt10_sigstop BUDGET TIMEOUT SETTLE WINDOW MIN_DK [ARGS...]: measure k from SETTLE s after the stop
#   for WINDOW s and require it to grow by at least MIN_DK; ARGS go to train.
rt10_sigstop() {
  local budget=$1 timeout=$2 settle=$3 window=$4 min_dk=$5
  shift 5
  rt10_start 3 -c "$Q" --set run.time_budget_s="$budget" --set run.log_every_s=0.5 \
    --set fault.worker_timeout_s="$timeout" "$@" --out "$PWD/run"
  rt10_wait_progress || return 1
  local pid k1 k2
  pid=$(rt10_rank_pid "$PWD/run" 2) || { echo "rank 2 not found" >&2; return 1; }
  kill -STOP "$pid"
  sleep "$settle"
  k1=$(rt10_last_k)
  sleep "$window"
  k2=$(rt10_last_k)
  kill -CONT "$pid"
  rt10_wait_job 90
  ((k2 >= k1 + min_dk)) || { echo "k went from $k1 to $k2 while rank 2 was stopped" >&2; return 1; }
  ((RC == 0)) || { echo "exit $RC: $(tail -c 300 log)" >&2; return 1; }
  [[ $(rt10_json run/summary.json retired) == 1 ]] || { echo "summary: retired != 1" >&2; return 1; }
}

# Under ringmaster (interrupts every R updates): stopped for 5 s, the retirement is logged.
rt10_sigstop_worker() {
  rt10_sigstop 12 1.5 1 4 20 || return 1
  grep -q 'worker 2 silent' log || { echo "no retirement logged" >&2; return 1; }
}
rt_scenario "SIGSTOP worker: k advances during the stop, retired by worker_timeout_s" rt10_sigstop_worker

# The same under stale = "discard" and under sync: no interrupts (discard) or a round that waits for
# the stopped worker (sync); both go on without it once it is retired.
rt10_sigstop_sync() { rt10_sigstop 10 1 2 3 10 --set run.method='"sync"'; }
rt10_sigstop_discard() { rt10_sigstop 10 1 2 3 10 --set method.stale='"discard"'; }
rt_scenario "SIGSTOP worker under sync: retired, rounds go on" rt10_sigstop_sync
rt_scenario "SIGSTOP worker under stale=discard: retired, training goes on" rt10_sigstop_discard

# A worker stopped for good: the job ends (nonzero, bounded time) after the stop deadline, with a
# checkpoint that --resume accepts.
rt10_never_resumed() {
  rt10_start 3 -c "$Q" --set run.time_budget_s=4 --set run.log_every_s=0.5 --out "$PWD/run"
  rt10_wait_progress || return 1
  local pid
  pid=$(rt10_rank_pid "$PWD/run" 2) || { echo "rank 2 not found" >&2; return 1; }
  kill -STOP "$pid"
  rt10_wait_job 90
  pkill -9 -f "train.*$PWD/run" 2>/dev/null
  ((RC != 124)) || { echo "the job hung with rank 2 stopped" >&2; return 1; }
  ((RC != 0)) || { echo "exit 0 though a worker never answered" >&2; return 1; }
  grep -q 'did not answer the stop' log || { echo "no deadline message: $(tail -c 300 log)" >&2; return 1; }
  # The final checkpoint's clock includes the stop deadline's wait (t ≈ 4 + 10 s): with the budget of 4 s the
  # run is finished, which a resume says (exit 0, nothing written); a budget past that clock continues it.
  rt_mpi 3 --resume "$PWD/run" >finished.log 2>&1 </dev/null || { echo "resume: $(tail -c 300 finished.log)" >&2; return 1; }
  local clock
  clock=$(grep -o 'the run already finished: its training clock is at t = [0-9.]*' finished.log | grep -o '[0-9.]*$') ||
    { echo "no 'already finished' line: $(tail -c 300 finished.log)" >&2; return 1; }
  [[ ! -e run/summary.json ]] || { echo "the finished resume wrote summary.json" >&2; return 1; }
  rt10_resumes 3 "$(python3 -c "print($clock + 2)")"
}
rt_scenario "never-resumed worker: job ends nonzero in bounded time, checkpoint resumes" rt10_never_resumed

# SIGUSR1 (Slurm's warning signal) while a worker is stopped: the server still acts on it at once and
# checkpoints; the job ends within the stop deadline.
rt10_signal_while_stopped() {
  rt10_start 3 -c "$Q" --set run.time_budget_s=60 --set run.log_every_s=0.5 --out "$PWD/run"
  rt10_wait_progress || return 1
  local pid
  pid=$(rt10_rank_pid "$PWD/run" 2) || { echo "rank 2 not found" >&2; return 1; }
  kill -STOP "$pid"
  sleep 2
  kill -USR1 "$JOB"
  sleep 1
  grep -q 'signal' log || { echo "signal not acted on while rank 2 is stopped: $(tail -c 300 log)" >&2; kill -CONT "$pid"; return 1; }
  rt10_wait_job 60
  pkill -9 -f "train.*$PWD/run" 2>/dev/null
  ((RC != 124)) || { echo "the job hung" >&2; return 1; }
  [[ -s run/checkpoint.bin ]] || { echo "no checkpoint" >&2; return 1; }
}
rt_scenario "SIGUSR1 while a worker is stopped: acted on at once, job ends" rt10_signal_while_stopped

# Ranks started with different configurations (MPMD launches, another -c): refused at start-up, the
# differing rank(s) named, no run directory.
rt_exit "MPMD: rank 2 with a different --set" 2 'rank\(s\) 2 were started with a different configuration' -- \
  mpirun --oversubscribe -np 2 "$RM" train -c "$Q" --out run : -np 1 "$RM" train -c "$Q" \
  --set method.stepsize=0.5 --out run
rt_exit "MPMD: ranks 1 and 2 with another config file" 2 'rank\(s\) 1, 2 ' -- \
  bash -c 'sed "s/^base_s = 0.01 /base_s = 0.02 /" "$Q" > other.toml &&
    mpirun --oversubscribe -np 1 "$RM" train -c "$Q" --out run : -np 2 "$RM" train -c other.toml --out run'
rt10_mpmd_no_dir() {
  mpirun --oversubscribe -np 2 "$RM" train -c "$Q" --out "$PWD/run" : -np 1 "$RM" train -c "$Q" \
    --set fault.max_bad=7 --out "$PWD/run" >log 2>&1 </dev/null
  local rc=$?
  ((rc == 2)) || { echo "exit $rc" >&2; return 1; }
  [[ ! -e run ]] || { echo "a run directory was created" >&2; return 1; }
}
rt_scenario "MPMD: refused before the run directory exists" rt10_mpmd_no_dir

# Gradient messages of the wrong length: rejected (counted, error line with both sizes), never fatal.
rt10_wrong_length() {
  rt_mpi 3 -c "$Q" --set run.time_budget_s=3 --set fault.inject="\"$1\"" --set fault.inject_workers=[2] \
    --set fault.inject_after=3 --set fault.max_bad="$2" --out "$PWD/run" >log 2>&1 </dev/null
  local rc=$?
  ((rc == 0)) || { echo "exit $rc: $(grep -v info log | tail -c 300)" >&2; return 1; }
  grep -qE 'rank 2 sent a gradient message of [0-9]+ bytes, expected [0-9]+' log ||
    { echo "no error line naming the sizes" >&2; return 1; }
  local rejected
  rejected=$(rt10_json run/summary.json rejected)
  ((rejected >= 1 && rejected <= $2)) || { echo "rejected = $rejected" >&2; return 1; }
}
rt10_too_long() { rt10_wrong_length oversize 3; }
rt10_too_short() { rt10_wrong_length truncate 3; }
rt10_too_long_always() { rt10_wrong_length oversize 1000000; }
rt_scenario "too-long gradient message: rejected, run finishes" rt10_too_long
rt_scenario "too-short gradient message: rejected, run finishes" rt10_too_short
rt_scenario "every gradient of a rank too long: all rejected, run finishes" rt10_too_long_always
