# Signals, the sharded server's followers, hints and the command line (issue #22, part 2): signals on a
# follower shard and SIGHUP anywhere stop the job with a checkpoint and exit 3; a stopped follower is named
# within seconds and the job ends resumable; resume hints follow the run's shape; bad option values, control
# characters, --set run.out on a resume, and `sample` without its trace file or waiting for its end.
# The sharded jobs are configs/quadratic.toml split in 2 blocks over 2 shards with 2 workers (4 ranks).
# Uses rt10_start, rt10_rank_pid, rt10_wait_progress, rt10_wait_job, rt10_json and rt10_resumes of
# 10-mpi.sh; ends what it started by pid only.

rt60_sharded=(-c "$Q" --set objective.blocks=2 --set server.shards=2 --set run.log_every_s=0.5)

# The pids of ranks 0..$1-1 of the job writing ./run, in RANKS (after rt10_wait_progress: all are up).
rt60_ranks() {
  local r
  RANKS=()
  for ((r = 0; r < $1; ++r)); do RANKS+=("$(rt10_rank_pid "$PWD/run" "$r")"); done
  [[ -n ${RANKS[*]} ]] || { echo "no ranks found" >&2; return 1; }
}

# Whether process $1 still runs (a zombie not yet reaped has ended).
rt60_running() { [[ -e /proc/$1 ]] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }

# A stop signal ($1) to the follower shard (rank 1): every rank checkpoints and exits 3 (mpirun returns 3),
# stop_reason "signal", the leader names the rank. Before: ignored, the job ran to its budget, exit 0.
rt60_follower_signal() {
  rt10_start 4 "${rt60_sharded[@]}" --set run.time_budget_s=30 --out "$PWD/run"
  rt10_wait_progress && rt60_ranks 4 || return 1
  kill "-$1" "${RANKS[1]}"
  rt10_wait_job 60
  ((RC == 3)) || { echo "exit $RC, expected 3: $(tail -c 300 log)" >&2; return 1; }
  [[ $(rt10_json run/summary.json stop_reason) == signal ]] || { echo "stop_reason is not signal" >&2; return 1; }
  grep -q 'rank 1 (server shard 1) received signal' log || { echo "the leader did not name rank 1" >&2; return 1; }
  [[ -s run/checkpoint.bin ]] || { echo "no checkpoint" >&2; return 1; }
}
rt60_follower_sigterm() { rt60_follower_signal TERM; }
rt60_follower_sigusr1() { rt60_follower_signal USR1; }
rt60_follower_sighup() { rt60_follower_signal HUP; }
rt_scenario "SIGTERM to a follower shard: checkpoint, exit 3" rt60_follower_sigterm
rt_scenario "SIGUSR1 to a follower shard: checkpoint, exit 3" rt60_follower_sigusr1
rt_scenario "SIGHUP to a follower shard: checkpoint, exit 3" rt60_follower_sighup

# SIGHUP (a closed terminal) on rank 0 or a worker of a one-server job: checkpoint, exit 3 (it was 129, no
# final checkpoint).
rt60_sighup_rank() {
  rt10_start 3 -c "$Q" --set run.time_budget_s=30 --set run.log_every_s=0.5 --out "$PWD/run"
  rt10_wait_progress && rt60_ranks 3 || return 1
  kill -HUP "${RANKS[$1]}"
  rt10_wait_job 60
  ((RC == 3)) || { echo "exit $RC, expected 3: $(tail -c 300 log)" >&2; return 1; }
  [[ $(rt10_json run/summary.json stop_reason) == signal ]] || { echo "stop_reason is not signal" >&2; return 1; }
}
rt60_sighup_leader() { rt60_sighup_rank 0; }
rt60_sighup_worker() { rt60_sighup_rank 2; }
rt_scenario "SIGHUP to rank 0: checkpoint, exit 3" rt60_sighup_leader
rt_scenario "SIGHUP to a worker rank: checkpoint, exit 3" rt60_sighup_worker

rt60_sighup_simulate() {
  "$RM" simulate -c "$Q" --set run.time_budget_s=3000 --set checkpoint.every_s=0.2 --out "$PWD/run" >log 2>&1 </dev/null &
  JOB=$!
  local i
  for ((i = 0; i < 600; ++i)); do
    [[ -s run/checkpoint.bin ]] && break
    sleep 0.1
  done
  kill -HUP "$JOB"
  rt10_wait_job 60
  ((RC == 3)) || { echo "exit $RC, expected 3: $(tail -c 300 log)" >&2; return 1; }
  [[ $(rt10_json run/summary.json stop_reason) == signal ]] || { echo "stop_reason is not signal" >&2; return 1; }
}
rt_scenario "SIGHUP to simulate: checkpoint, exit 3" rt60_sighup_simulate

# A follower SIGSTOPped for good: named in a warning within seconds (it was silent until a gather had
# waited 60 s), the job ends with exit 1 after 30 s of silence, no rank left, and the checkpoint it leaves
# (the last all shards wrote; a sharded run writes one at its start) resumes.
rt60_follower_stopped() {
  rt10_start 4 "${rt60_sharded[@]}" --set run.time_budget_s=300 --out "$PWD/run"
  rt10_wait_progress && rt60_ranks 4 || return 1
  kill -STOP "${RANKS[1]}"
  local i
  for ((i = 0; i < 200; ++i)); do
    grep -q 'server shard 1 (rank 1) has taken none' log && break
    sleep 0.1
  done
  ((i < 200)) || { echo "no warning within 20 s of the stop: $(tail -c 300 log)" >&2; kill -9 "$JOB" "${RANKS[@]}"; return 1; }
  rt10_wait_job 90
  local left=() p
  for p in "${RANKS[@]}"; do rt60_running "$p" && left+=("$p"); done
  kill -9 "${RANKS[@]}" 2>/dev/null
  ((${#left[@]} == 0)) || { echo "rank(s) left running: ${left[*]} (exit $RC): $(tail -c 200 log)" >&2; return 1; }
  ((RC != 124)) || echo "note: mpirun hung after the abort (Open MPI's PMIx_server_finalize, docs/method.md §8); killed" >&2
  ((RC == 1 || RC == 124)) || { echo "exit $RC, expected 1: $(tail -c 300 log)" >&2; return 1; }
  grep -q 'continue with: mpirun -np [0-9]* [^ ]*ringmaster train --resume' log || { echo "no resume hint: $(tail -c 300 log)" >&2; return 1; }
  rt10_resumes 4 2  # the checkpoint left is the one of the start (the next, at 30 s, needed the follower)
}
rt_scenario "SIGSTOP a follower for good: named within seconds, exit 1, checkpoint resumes" rt60_follower_stopped

# A follower stopped for 8 s and continued: named, then picked up again; the job ends normally.
rt60_follower_paused() {
  rt10_start 4 "${rt60_sharded[@]}" --set run.time_budget_s=14 --out "$PWD/run"
  rt10_wait_progress && rt60_ranks 4 || return 1
  kill -STOP "${RANKS[1]}"
  sleep 8
  kill -CONT "${RANKS[1]}"
  rt10_wait_job 60
  ((RC == 0)) || { echo "exit $RC: $(tail -c 300 log)" >&2; return 1; }
  grep -q 'has taken none' log || { echo "the stopped follower was not named" >&2; return 1; }
  grep -q "takes the leader's decisions again" log || { echo "its return was not said" >&2; return 1; }
}
rt_scenario "SIGSTOP a follower for 8 s: named, picked up again, exit 0" rt60_follower_paused

# Resume hints from the run's shape: a sharded run of 2 workers needs 2 + 2 ranks (it said -np 3), and a
# simulation's hint names run.workers (it said mpirun -np 9).
rt60_hint_sharded() {
  rt_mpi 4 "${rt60_sharded[@]}" --set run.time_budget_s=1 --out "$PWD/run" >log 2>&1 </dev/null || return 1
  rt_mpi 3 --resume "$PWD/run" >resume.log 2>&1 </dev/null
  local rc=$?
  ((rc == 2)) || { echo "exit $rc" >&2; return 1; }
  grep -q 'start mpirun with -np 4 (2 workers + server.shards = 2)' resume.log ||
    { echo "hint: $(grep -i error resume.log | head -c 300)" >&2; return 1; }
}
rt_scenario "resume of a sharded run with too few ranks: hint -np workers + shards" rt60_hint_sharded
rt60_hint_simulate() {
  "$RM" simulate -c "$Q" --set run.time_budget_s=1 --out run >/dev/null 2>&1 || return 1
  "$RM" simulate --resume run --set run.workers=9 >/dev/null 2>err
  local rc=$?
  ((rc == 2)) || { echo "exit $rc" >&2; return 1; }
  grep -q 'has 8: resume with run.workers = 8' err || { echo "hint: $(head -c 300 err)" >&2; return 1; }
  ! grep -q mpirun err || { echo "a simulation told to start mpirun: $(head -c 300 err)" >&2; return 1; }
}
rt_scenario "simulate --resume with another run.workers: hint names run.workers, not mpirun" rt60_hint_simulate

# Bad option values: one line naming the option and what it takes (it was 14 lines of usage).
rt60_one_line() {
  "$RM" "$@" >/dev/null 2>err
  local rc=$?
  ((rc == 2)) || { echo "exit $rc" >&2; return 1; }
  (($(wc -l <err) == 1)) || { echo "$(wc -l <err) lines: $(head -c 300 err)" >&2; return 1; }
  grep -q -- "--${RT60_OPTION} takes" err || { echo "the option is not named: $(head -c 300 err)" >&2; return 1; }
}
rt60_tokens() { RT60_OPTION=tokens rt60_one_line sample --run . --tokens 4294967296; }
rt60_temperature() { RT60_OPTION=temperature rt60_one_line sample --run . --temperature nan; }
rt60_seed() { RT60_OPTION=seed rt60_one_line sample --run . --seed -1; }
rt_scenario "sample --tokens 4294967296: one line naming --tokens" rt60_tokens
rt_scenario "sample --temperature nan: one line naming --temperature" rt60_temperature
rt_scenario "sample --seed -1: one line naming --seed" rt60_seed

# Control characters and a right-to-left override in a --set come back escaped, never raw.
rt60_escaped() {
  "$RM" simulate -c "$Q" --set $'run.method=a\e[2J\u202eb' --out run >/dev/null 2>err
  local rc=$?
  ((rc == 2)) || { echo "exit $rc" >&2; return 1; }
  grep -qF 'a\x1b[2J\u{202e}b' err || { echo "not escaped: $(head -c 300 err | od -c | head -3)" >&2; return 1; }
  ! grep -q $'\e' err && ! grep -q $'\u202e' err || { echo "raw control characters echoed" >&2; return 1; }
}
rt_scenario "control characters and bidi overrides in a --set: escaped" rt60_escaped

# --set run.out on a resume is refused like --out (it was ignored); nothing is made there.
rt_exit "simulate --resume with --set run.out: refused" 2 'run\.out=elsewhere: --resume continues in its own directory' -- \
  bash -c '"$RM" simulate -c "$Q" --set run.time_budget_s=1 --out run 2>/dev/null &&
    "$RM" simulate --resume run --set run.out=elsewhere; rc=$?; [[ ! -e elsewhere ]] && exit $rc'

# sample of a gpt trace-replay run whose trace file is gone: it does not need it (it refused the run).
rt_exit "sample: a trace run without its trace file" 0 '' -- bash -c '
  printf "worker,seconds\n1,0.01\n2,0.02\n3,0.03\n4,0.04\n" > trace.csv &&
  "$RM" simulate -c "$ROOT/tests/configs/good/gpt_tiny.toml" --set heterogeneity.profile=trace \
    --set heterogeneity.trace="$PWD/trace.csv" --set run.time_budget_s=1 --out run 2>/dev/null && rm trace.csv &&
  [[ $("$RM" sample --raw --run run --tokens 40 | wc -c) == 40 ]]'

# sample streams: the first bytes of a million reach the reader while it still runs (it printed nothing
# until the end, ~280 s for a million bytes of gpt_tiny).
rt60_streams() {
  "$RM" simulate -c "$ROOT/tests/configs/good/gpt_tiny.toml" --set run.time_budget_s=1 --out run >/dev/null 2>&1 ||
    return 1
  # The reading end stays open (fd 3) after the 16 bytes: sample is not ended by a broken pipe meanwhile.
  mkfifo out.fifo
  "$RM" sample --run run --tokens 1000000 >out.fifo 2>/dev/null &
  JOB=$!
  exec 3<out.fifo
  local head running=0
  head=$(timeout 60 head -c 16 <&3 | wc -c)
  kill -0 "$JOB" 2>/dev/null && running=1
  kill -9 "$JOB" 2>/dev/null
  wait "$JOB" 2>/dev/null
  exec 3<&-
  ((head == 16)) || { echo "got $head bytes" >&2; return 1; }
  ((running)) || { echo "the bytes came only after sample had finished" >&2; return 1; }
}
rt_scenario "sample streams its output" rt60_streams
