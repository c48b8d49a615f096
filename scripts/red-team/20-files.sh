# Files and run directories: full disks, two jobs on
# one directory, kill -9 then resume, hostile checkpoints, bad --out/--resume paths, foreign checkpoints.
# Scenarios print their reason on stderr; they accept error text on stdout or stderr.

rt_files_why() { printf '%s\n' "$*" >&2; }

# --- helpers -----------------------------------------------------------------------------------------

# A short MPI run with a checkpoint, in DIR (default ./run).
rt_files_trained() {
  rt_mpi "${2:-3}" -c "$Q" --set run.max_updates=30 --set objective.rows=4 --set objective.cols=4 \
    --set heterogeneity.base_s=0.001 --out "${1:-run}" >/dev/null 2>&1
}

# Mounts a 200 KiB tmpfs on ./small and fills it until $1 KiB are free; unmount with rt_files_unmount.
rt_files_small_disk() {
  mkdir -p small && mount -t tmpfs -o size=200k tmpfs small || { rt_files_why "cannot mount a tmpfs (needs root)"; return 1; }
  local avail
  avail=$(df -B1 --output=avail small | tail -1)
  head -c $((avail - $1 * 1024)) /dev/zero >small/filler 2>/dev/null
  return 0
}
rt_files_unmount() { umount -l small 2>/dev/null; }

# No 0-byte file (the lock file aside) and no .tmp file in DIR; CSV files end with a whole row.
rt_files_clean() {
  local dir=$1 f
  [[ -d $dir ]] || return 0
  for f in "$dir"/* ; do
    [[ -e $f ]] || continue
    [[ $f == *.tmp ]] && { rt_files_why "temporary file left: $f"; return 1; }
    [[ -s $f ]] || { rt_files_why "0-byte file left: $f"; return 1; }
    [[ $f == *.csv && $(tail -c 1 "$f" | od -An -c | tr -d ' ') != '\n' ]] && { rt_files_why "torn row at the end of $f"; return 1; }
  done
  return 0
}

# Rewrites one field of a checkpoint's CBOR payload and fixes the header (length, CRC-32): a checkpoint
# whose CRC is valid but whose contents are impossible. FIELD=HEX replaces the field's value with the
# CBOR bytes HEX; x=nan puts a NaN into the first parameter.
rt_files_patch_checkpoint() {
  python3 - "$1" "$2" <<'PY'
import struct, sys, zlib
path, edit = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
payload = bytearray(data[20:])
key, value = edit.split("=")
k = bytes([0x60 + len(key)]) + key.encode()
if value == "nan":
    at = payload.rfind(k) + len(k)
    info = payload[at] & 0x1f
    skip = 1 + {24: 1, 25: 2, 26: 4, 27: 8}.get(info, 0)
    payload[at + skip:at + skip + 4] = struct.pack("<f", float("nan"))
else:
    at = payload.find(k) + len(k)
    head = payload[at]
    major, info = head >> 5, head & 0x1f
    if major == 7:
        size = 1 + {25: 2, 26: 4, 27: 8}.get(info, 0)
    else:
        size = 1 + {24: 1, 25: 2, 26: 4, 27: 8}.get(info, 0)
    payload[at:at + size] = bytes.fromhex(value)
out = data[:8] + struct.pack("<Q", len(payload)) + struct.pack("<I", zlib.crc32(payload) & 0xffffffff) + payload
open(path, "wb").write(out)
PY
}

# Resumes ./run after a patch and expects exit 2 naming FIELD.
rt_files_resume_refuses() {
  local field=$1 edit=$2
  rt_files_trained || { rt_files_why "setup run failed"; return 1; }
  rt_files_patch_checkpoint run/checkpoint.bin "$edit" || return 1
  timeout 120 mpirun --oversubscribe -np 3 "$RM" train --resume run -c "$Q" --set objective.rows=4 \
    --set objective.cols=4 --set heterogeneity.base_s=0.001 >out 2>&1
  local rc=$?
  ((rc == 2)) || { rt_files_why "exit $rc, expected 2: $(head -c 300 out)"; return 1; }
  grep -q -- "$field" out || { rt_files_why "no mention of $field: $(head -c 300 out)"; return 1; }
}

# --- class 2: a full disk is an error, never exit 0 with empty files ---------------------------------

rt_files_full_disk() {
  local free=$1 engine=$2
  rt_files_small_disk "$free" || return 1
  if [[ $engine == sim ]]; then
    timeout 120 "$RM" simulate -c "$Q" --set run.time_budget_s=2 --out small/s >out 2>&1
  else
    timeout 120 mpirun --oversubscribe -np 3 "$RM" train -c "$Q" --set run.time_budget_s=2 --set objective.rows=8 \
      --set objective.cols=8 --out small/s >out 2>&1
  fi
  local rc=$? why=""
  if ((rc == 0)); then
    python3 -c 'import json; json.load(open("small/s/summary.json"))' 2>/dev/null || why="exit 0 without a complete summary.json"
  else
    grep -qE 'small/s/[a-z_.]+.*No space left on device' out || why="exit $rc without an error naming the file and errno: $(head -c 300 out)"
  fi
  [[ -z $why ]] && { rt_files_clean small/s || why="see above"; }
  rt_files_unmount
  [[ -z $why ]] || { rt_files_why "$why"; return 1; }
}
rt_files_full_disk_16k() { rt_files_full_disk 16 sim; }
rt_files_full_disk_40k() { rt_files_full_disk 40 sim; }
rt_files_full_disk_72k() { rt_files_full_disk 72 sim; }
rt_files_full_disk_mpi() { rt_files_full_disk 40 mpi; }
rt_scenario "full disk (16 KiB free, the issue's repro): error naming the file, no 0-byte files" rt_files_full_disk_16k
rt_scenario "full disk (40 KiB free): fails at the end, error naming the file, whole rows" rt_files_full_disk_40k
rt_scenario "full disk (72 KiB free): complete or an error, never empty files" rt_files_full_disk_72k
rt_scenario "full disk under train (40 KiB free): error naming the file, no 0-byte files" rt_files_full_disk_mpi

# A file size limit (a quota): writes fail with EFBIG; SIGXFSZ ignored so the error is reported.
rt_files_fsize_limit() {
  (trap '' XFSZ; ulimit -f 16; exec timeout 120 "$RM" simulate -c "$Q" --set run.time_budget_s=5 --out s) >out 2>&1
  local rc=$?
  ((rc != 0)) || { rt_files_why "exit 0 with a file size limit of 16 KiB"; return 1; }
  grep -qE 's/[a-z_.]+: File too large' out || { rt_files_why "no error naming the file: $(head -c 300 out)"; return 1; }
  rt_files_clean s
}
rt_scenario "file size limit (ulimit -f 16): error naming the file, whole rows" rt_files_fsize_limit

# A failed start removes the directory it created (class 9).
rt_files_start_fails() {
  rt_files_small_disk 4 || return 1
  timeout 120 "$RM" simulate -c "$Q" --set run.time_budget_s=1 --out small/s >out 2>&1
  local rc=$? left=""
  [[ -e small/s ]] && left=$(ls -A small/s | tr '\n' ' ')
  rt_files_unmount
  ((rc != 0)) || { rt_files_why "exit 0 on a full disk"; return 1; }
  [[ -z $left ]] || { rt_files_why "the failed start left its directory behind: $left"; return 1; }
}
rt_scenario "start fails on a full disk (4 KiB free): the directory it created is removed" rt_files_start_fails

# --- class 3: nothing stops two jobs sharing a run directory -----------------------------------------

# The issue's repro, widened: rounds of six simulations started together without --out, in ./runs.
rt_files_same_second() {
  local round s failed=0
  for round in 1 2 3; do
    for s in 1 2 3 4 5 6; do
      "$RM" simulate -c "$Q" --set run.seed=$s --set run.time_budget_s=3 >/dev/null 2>&1 &
    done
    for s in 1 2 3 4 5 6; do wait -n || failed=$((failed + 1)); done
  done
  ((failed == 0)) || rt_files_why "$failed runs failed"
  local n
  n=$(ls runs | wc -l)
  ((n == 18)) || { rt_files_why "$n run directories for 18 runs"; return 1; }
  python3 - <<'PY' || return 1
import json, os, re, sys
for d in sorted(os.listdir("runs")):
    seed = int(re.search(r"^seed = (\d+)", open(f"runs/{d}/config.toml").read(), re.M).group(1))
    if json.load(open(f"runs/{d}/summary.json"))["seed"] != seed:
        sys.exit(f"runs/{d}: config.toml of one run, summary.json of another")
PY
}
rt_scenario "runs started in the same second get distinct, self-consistent directories" rt_files_same_second

# A job running in ./run (checkpointing every 0.2 s); $1: the second job's command.
rt_files_second_job() {
  timeout 120 mpirun --oversubscribe -np 3 "$RM" train -c "$Q" --set objective.rows=8 --set objective.cols=8 \
    --set run.time_budget_s=6 --set checkpoint.every_s=0.2 --out run >first 2>&1 &
  local first=$! i
  for i in $(seq 1 300); do [[ -e run/checkpoint.bin ]] && break; sleep 0.1; done
  [[ -e run/checkpoint.bin ]] || { rt_files_why "the first job never checkpointed"; return 1; }
  "$@" >second 2>&1
  local rc=$?
  wait $first
  local first_rc=$?
  ((rc == 2)) || { rt_files_why "second job: exit $rc, expected 2: $(head -c 300 second)"; return 1; }
  grep -qE 'run: the run directory is in use by another job \(pid [0-9]+' second ||
    { rt_files_why "second job: no message naming the directory and the pid: $(head -c 300 second)"; return 1; }
  ((first_rc == 0)) || { rt_files_why "the first job was harmed: exit $first_rc"; return 1; }
  python3 -c 'import json; assert json.load(open("run/summary.json"))["epochs"] == 1' ||
    { rt_files_why "the first job's summary shows another epoch"; return 1; }
}
rt_files_second_resume() {
  rt_files_second_job timeout 120 mpirun --oversubscribe -np 3 "$RM" train --resume run -c "$Q" \
    --set objective.rows=8 --set objective.cols=8
}
rt_files_second_force_train() {
  rt_files_second_job timeout 120 mpirun --oversubscribe -np 3 "$RM" train -c "$Q" --out run --force
}
rt_files_second_force_sim() { rt_files_second_job timeout 120 "$RM" simulate -c "$Q" --out run --force; }
rt_scenario "a second --resume of a running directory exits 2 naming it and the pid" rt_files_second_resume
rt_scenario "train --out --force into a running directory exits 2" rt_files_second_force_train
rt_scenario "simulate --out --force into a running directory exits 2" rt_files_second_force_sim

# --- class 5: a resume after kill -9 cuts the CSV files back to the checkpoint ------------------------

rt_files_kill_resume() {
  setsid mpirun --oversubscribe -np 4 "$RM" train -c "$Q" --set objective.rows=16 --set objective.cols=16 \
    --set run.time_budget_s=8 --set checkpoint.every_s=0.2 --out run >/dev/null 2>&1 &
  local job=$!
  sleep 3
  kill -9 -- -$job 2>/dev/null
  wait $job 2>/dev/null
  pkill -9 -f "^[^ ]*/ringmaster train.*--out run" 2>/dev/null
  sleep 0.3
  [[ -e run/checkpoint.bin ]] || { rt_files_why "no checkpoint after 3 s"; return 1; }
  timeout 120 mpirun --oversubscribe -np 4 "$RM" train --resume run -c "$Q" --set objective.rows=16 \
    --set objective.cols=16 >out 2>&1 || { rt_files_why "resume failed: $(head -c 300 out)"; return 1; }
  python3 - <<'PY'
import json, sys
lines = open("run/events.csv").read().split("\n")
assert lines[-1] == "", "the file does not end with a whole row"
rows = [l.split(",") for l in lines[1:-1]]
torn = [l for l in rows if len(l) != 7]
if torn: sys.exit(f"torn rows: {torn[:3]}")
for a, b in zip(rows, rows[1:]):
    if float(b[0]) < float(a[0]) or int(b[1]) < int(a[1]): sys.exit(f"time or k goes back: {a} then {b}")
s = json.load(open("run/summary.json"))
arrivals = sum(r[5] != "interrupt" for r in rows)
accepted = sum(r[5] == "accept" for r in rows)
if (s["arrivals"], s["accepted"]) != (arrivals, accepted):
    sys.exit(f"summary says {s['arrivals']} arrivals, {s['accepted']} accepted; the rows {arrivals}, {accepted}")
PY
}
rt_scenario "kill -9 midway, resume: no torn row, k and time never go back, counts equal rows" rt_files_kill_resume

# --- class 8: unbounded checkpoint reads -------------------------------------------------------------

rt_files_special_checkpoint() {
  rt_files_trained || { rt_files_why "setup run failed"; return 1; }
  rm run/checkpoint.bin
  case $1 in
    zero) ln -s /dev/zero run/checkpoint.bin ;;
    fifo) mkfifo run/checkpoint.bin ;;
    padded) rt_files_trained run2 && cp run2/checkpoint.bin run/ && truncate -s +1G run/checkpoint.bin ;;
    huge) python3 -c '
import struct; f = open("run/checkpoint.bin", "wb"); f.write(b"RMCKPT1\n" + struct.pack("<QI", 1 << 32, 0)); f.truncate(20 + (1 << 32))' ;;
  esac
  timeout -k 5 60 mpirun --oversubscribe -np 3 "$RM" train --resume run -c "$Q" --set objective.rows=4 \
    --set objective.cols=4 --set heterogeneity.base_s=0.001 >out 2>&1
  local rc=$?
  ((rc == 2)) || { rt_files_why "exit $rc, expected 2: $(head -c 300 out)"; return 1; }
  grep -qE "$2" out || { rt_files_why "no /$2/: $(head -c 300 out)"; return 1; }
}
rt_files_ckpt_zero() { rt_files_special_checkpoint zero 'checkpoint.bin: not a regular file'; }
rt_files_ckpt_fifo() { rt_files_special_checkpoint fifo 'checkpoint.bin: not a regular file'; }
rt_files_ckpt_padded() { rt_files_special_checkpoint padded 'truncated or padded'; }
rt_files_ckpt_huge() { rt_files_special_checkpoint huge 'larger than this run'; }
rt_scenario "checkpoint symlinked to /dev/zero: exit 2, not read" rt_files_ckpt_zero
rt_scenario "checkpoint that is a FIFO: exit 2, no hang" rt_files_ckpt_fifo
rt_scenario "checkpoint padded by 1 GiB: exit 2 from its header" rt_files_ckpt_padded
rt_scenario "checkpoint claiming 4 GiB for 16 parameters: exit 2 before allocating" rt_files_ckpt_huge

# --- class 9: filesystem errors on --out / --resume are exit 2 naming the path ------------------------

rt_exit "--out through a symlink loop" 2 'loop/run' -- bash -c 'ln -s loop loop && "$RM" simulate -c "$Q" --out loop/run'
rt_exit "runs/ is a symlink loop (no --out)" 2 'runs' -- bash -c 'ln -s runs runs && "$RM" simulate -c "$Q"'
rt_exit "--out name too long" 2 'nnnnnnnn' -- bash -c '"$RM" simulate -c "$Q" --out "$(printf "n%.0s" $(seq 300))"'
rt_exit "--out under a regular file" 2 'plain/run' -- bash -c 'touch plain && "$RM" simulate -c "$Q" --out plain/run'
rt_exit "--out is a regular file" 2 'plain' -- bash -c 'touch plain && "$RM" simulate -c "$Q" --out plain'
rt_exit "--resume of a symlink loop" 2 'loop' -- bash -c 'ln -s loop loop && mpirun --oversubscribe -np 2 "$RM" train --resume loop -c "$Q"'
rt_exit "--resume of a missing directory" 2 'nowhere' -- mpirun --oversubscribe -np 2 "$RM" train --resume nowhere -c "$Q"
rt_files_invalid_no_dir() {
  "$RM" simulate -c "$Q" --set method.momentum=2 --out never >out 2>&1
  local rc=$?
  ((rc == 2)) || { rt_files_why "exit $rc, expected 2"; return 1; }
  [[ ! -e never ]] || { rt_files_why "bad input created the run directory"; return 1; }
}
rt_scenario "bad input creates no run directory" rt_files_invalid_no_dir

# --- class 10: resume validation ---------------------------------------------------------------------

rt_files_foreign_checkpoint() {
  rt_files_trained run && rt_files_trained other || { rt_files_why "setup runs failed"; return 1; }
  cp other/checkpoint.bin run/checkpoint.bin
  timeout 120 mpirun --oversubscribe -np 3 "$RM" train --resume run -c "$Q" --set objective.rows=4 \
    --set objective.cols=4 --set heterogeneity.base_s=0.001 >out 2>&1
  local rc=$?
  ((rc == 2)) || { rt_files_why "exit $rc, expected 2: $(head -c 300 out)"; return 1; }
  grep -q "$(cat run/run_id)" out && grep -q "$(cat other/run_id)" out || { rt_files_why "both run ids not named: $(head -c 300 out)"; return 1; }
}
rt_scenario "the checkpoint of another run of the same config is refused, naming both ids" rt_files_foreign_checkpoint
rt_files_worker_mismatch() {
  rt_files_trained run 3 || { rt_files_why "setup run failed"; return 1; }
  timeout 120 mpirun --oversubscribe -np 4 "$RM" train --resume run -c "$Q" --set objective.rows=4 \
    --set objective.cols=4 --set heterogeneity.base_s=0.001 >out 2>&1
  local rc=$?
  ((rc == 2)) || { rt_files_why "exit $rc, expected 2"; return 1; }
  grep -q "started with 3 workers, the checkpoint has 2" out || { rt_files_why "unclear message: $(head -c 300 out)"; return 1; }
}
rt_scenario "resume with another worker count says 'started with N workers, the checkpoint has M'" rt_files_worker_mismatch
rt_files_nan_x() { rt_files_resume_refuses "x\[0\] is not finite" "x=nan"; }
rt_files_negative_time() { rt_files_resume_refuses "train_time_s" "train_time_s=fbbff0000000000000"; }
rt_files_huge_k() { rt_files_resume_refuses "k:" "k=1b7ffffffffffffffe"; }
rt_files_epoch_limit() { rt_files_resume_refuses "epoch" "epoch=1affffffff"; }
rt_scenario "CRC-valid checkpoint with a NaN parameter is refused" rt_files_nan_x
rt_scenario "CRC-valid checkpoint with a negative training time is refused" rt_files_negative_time
rt_scenario "CRC-valid checkpoint with k near the integer limit is refused" rt_files_huge_k
rt_scenario "CRC-valid checkpoint with the epoch at its limit is refused" rt_files_epoch_limit
