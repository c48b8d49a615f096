# The Python tools (issue #22): tools/sweep.py — two sweeps on one directory, run names that collided, a
# sweep that lost runs, a full disk during the report, grids too large to list, names and directories that
# are not the sweep's, inputs that are not regular files — and tools/gpt_checkpoint.py — FIFOs and devices,
# a checkpoint of another shape with as many parameters, payloads that announce more than they hold or nest
# without end, configs that are not the binary's, a --save that cannot be written — and (issue #26)
# tools/runs.py and `ringmaster eval` on run files and data that are FIFOs, devices, endless or damaged. Every
# refusal is one line naming the file, key or directory, with exit 2 for bad input and 1 for a failure to write.

rt_tools_why() { printf '%s\n' "$*" >&2; }
export SWEEP=$ROOT/tools/sweep.py GPT_CHECKPOINT=$ROOT/tools/gpt_checkpoint.py

# --- sweep helpers -----------------------------------------------------------------------------------

# A spec NAME.toml over the quadratic with these [grid] lines: short simulations (the virtual clock).
rt_tools_spec() {
  local name=$1
  shift
  printf '[sweep]\nname = "%s"\nconfig = "%s"\n[set]\n"run.time_budget_s" = 2.0\n"objective.rows" = 8\n"objective.cols" = 8\n[grid]\n' \
    "$name" "$Q" >"$name.toml"
  printf '%s\n' "$@" >>"$name.toml"
}

# A stand-in for the binary: it writes a finished run (summary.json, eval.csv) from nothing, in a blink;
# with --set fake.stop="signal" the summary says the run was stopped before its stop rule, and it exits 0.
rt_tools_fake_binary() {
  cat >fake <<'PY'
#!/usr/bin/python3
import json, os, sys
args = sys.argv[1:]
out = args[args.index("--out") + 1]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "eval.csv"), "w") as f:
    f.write("time_s,k,loss,grad_dual_norm\n" + "".join(f"{s}.0,{s},{100.0 / (s + 1)},1\n" for s in range(30)))
summary = {"initial_loss": 100.0, "final_loss": 3.3, "train_time_s": 29.0,
           "time_to_relative_target": {"0.1": 9.0, "0.01": None, "0.001": None, "0.0001": None, "1e-06": None}}
if 'fake.stop="signal"' in args:
    summary["stop_reason"] = "signal"
json.dump(summary, open(os.path.join(out, "summary.json"), "w"))
PY
  chmod +x fake
}

# No 0-byte file (the lock aside) and no temporary file anywhere in DIR.
rt_tools_clean() {
  local bad
  bad=$(find "$1" -type f \( -name '*.tmp' -o \( -size 0 ! -name sweep.lock \) \) | head -3)
  [[ -z $bad ]] || { rt_tools_why "left behind: $bad"; return 1; }
}

# --- two sweeps on one directory, and names that collided ---------------------------------------------

rt_tools_two_sweeps() {
  rt_tools_spec two '"run.method" = ["ringmaster", "async"]' '"run.seed" = [1, 2, 3]'
  # The first sweep's runs wait (up to 300 s) until the second sweep has ended, so the first holds the
  # directory for the whole of the second however slowly a loaded machine starts Python (its runs alone
  # took less than the second's start-up once, and the second then found the directory free).
  printf '#!/bin/sh
i=0
while [ ! -e "%s/release" ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i + 1)); done
exec "%s" "$@"
' \
    "$PWD" "$RM" >held
  chmod +x held
  "$SWEEP" run two.toml --dir D --binary "$PWD/held" >first 2>&1 &
  local first=$! i
  for i in $(seq 1 600); do grep -q '"pid"' D/sweep.lock 2>/dev/null && break; sleep 0.1; done
  grep -q '"pid"' D/sweep.lock 2>/dev/null || { touch release; rt_tools_why "the first sweep never took its lock"; return 1; }
  "$SWEEP" run two.toml --dir D --binary "$RM" >second 2>&1
  local rc=$?
  touch release
  wait $first
  local first_rc=$?
  ((rc == 2)) || { rt_tools_why "second sweep: exit $rc, expected 2: $(head -c 300 second)"; return 1; }
  grep -qE "D: in use by another sweep \(pid $first on [^,]+, \`sweep.py run\`\)" second ||
    { rt_tools_why "second sweep: no line naming the directory and the holder: $(head -c 300 second)"; return 1; }
  ((first_rc == 0)) || { rt_tools_why "the first sweep was harmed: exit $first_rc: $(tail -c 300 first)"; return 1; }
  (($(find D/runs -name summary.json | wc -l) == 6)) || { rt_tools_why "the first sweep lost runs"; return 1; }
}
rt_scenario "two sweeps on one directory: the second exits 2 naming it and the first's pid and host" rt_tools_two_sweeps

# (refusals of the spec itself are checked with `list`: a regression then writes nothing, not even into the
# repository's sweeps/ directory where `run` would)
rt_exit "grid values that name one run directory ([1, 1.0]) are refused naming the key" 2 \
  'grid\.method\.stepsize: 1 and 1\.0 would name the same run directory' -- \
  bash -c 'printf "[sweep]\nconfig = \"$Q\"\n[grid]\n\"method.stepsize\" = [1, 1.0]\n" >s.toml && "$SWEEP" list s.toml'

# "a/b" next to "a_b" used to share one directory: with --jobs 2, each run removed the other's
rt_tools_slash() {
  mkdir t
  printf 'worker,seconds\n1,0.01\n2,0.02\n' >t/a.csv
  printf 'worker,seconds\n1,0.03\n2,0.01\n' >t_a.csv
  printf '[sweep]\nconfig = "%s"\n[set]\n"run.time_budget_s" = 2.0\n"run.workers" = 2\n"heterogeneity.profile" = "trace"\n[grid]\n"heterogeneity.trace" = ["t/a.csv", "t_a.csv"]\n' \
    "$Q" >slash.toml
  "$SWEEP" run slash.toml --dir D --jobs 2 --binary "$RM" >out 2>&1 || { rt_tools_why "exit $?: $(tail -c 300 out)"; return 1; }
  grep -q 'trace = "t/a.csv"' "D/runs/trace=t%2Fa.csv/config.toml" && grep -q 'trace = "t_a.csv"' "D/runs/trace=t_a.csv/config.toml" ||
    { rt_tools_why "not one directory per value: $(ls D/runs | tr '\n' ' ')"; return 1; }
}
rt_scenario "values \"a/b\" and \"a_b\" get a run directory each (--jobs 2), exit 0" rt_tools_slash

rt_tools_missing() {
  rt_tools_fake_binary
  rt_tools_spec missing '"fake.stop" = ["none", "signal"]'
  "$SWEEP" run missing.toml --dir D --binary ./fake >out 2>&1
  local rc=$?
  ((rc == 1)) || { rt_tools_why "exit $rc with a run missing, expected 1: $(tail -c 300 out)"; return 1; }
  grep -q '1 of the comparison runs did not finish' out || { rt_tools_why "no line saying so: $(tail -c 300 out)"; return 1; }
}
rt_scenario "a sweep whose report lacks a run exits 1, not 0" rt_tools_missing

# --- the sweep tool's own files ---------------------------------------------------------------------

# The report made again on a full disk (a small tmpfs, 8 KiB free): the tables fit, the plot does not.
rt_tools_full_disk() {
  rt_tools_fake_binary
  rt_tools_spec full '"run.method" = ["ringmaster", "async"]' '"run.seed" = [1, 2]'
  "$SWEEP" run full.toml --dir D --binary ./fake >out 2>&1 || { rt_tools_why "setup: $(tail -c 300 out)"; return 1; }
  rt_files_small_disk 190 || return 1  # (20-files.sh) room for the sweep, then filled up to 8 KiB
  rm -f small/filler && cp -r D small/D
  local avail
  avail=$(df -B1 --output=avail small | tail -1)
  head -c $((avail - 8 * 1024)) /dev/zero >small/filler 2>/dev/null
  "$SWEEP" report full.toml --dir small/D >out 2>&1
  local rc=$? why=""
  ((rc == 1)) || why="exit $rc, expected 1: $(tail -c 300 out)"
  [[ -z $why ]] && ! grep -qE '^sweep: .*small/D/report/full[-a-z]*\.(png|md|csv): cannot be written: No space left on device$' out &&
    why="no line naming the file: $(tail -c 300 out)"
  [[ -z $why ]] && grep -q Traceback out && why="a traceback"
  [[ -z $why ]] && ! cmp -s D/report/full-loss-vs-time.png small/D/report/full-loss-vs-time.png && why="the old plot is gone or torn"
  [[ -z $why ]] && { rt_tools_clean small/D || why="see above"; }
  rt_files_unmount
  [[ -z $why ]] || { rt_tools_why "$why"; return 1; }
}
rt_scenario "full disk during the report: exit 1 naming the file, the old plot whole, no 0-byte or temporary file" rt_tools_full_disk

rt_exit "a grid of 10^6 points is refused from its axes' lengths" 2 'compare phase would have 1,000,000 runs; at most 100,000' -- \
  bash -c 'printf "[sweep]\nconfig = \"$Q\"\n[grid]\n\"method.stepsize\" = [%s]\n\"run.seed\" = [%s]\n" "$(seq -s, 1 1000)" "$(seq -s, 1 1000)" >big.toml && "$SWEEP" list big.toml'
rt_exit "a sweep named .. (the repository root) is refused" 2 "sweep\.name must be a file name.*got '\.\.'" -- \
  bash -c 'printf "[sweep]\nname = \"..\"\nconfig = \"$Q\"\n[grid]\n\"run.seed\" = [1]\n" >s.toml && "$SWEEP" list s.toml'

rt_tools_foreign_dir() {
  mkdir mine && echo "my notes" >mine/notes.txt && echo "x = 1" >mine/sweep.toml
  rt_tools_spec s '"run.seed" = [1]'
  "$SWEEP" run s.toml --dir mine --binary "$RM" >out 2>&1
  local rc=$?
  ((rc == 2)) || { rt_tools_why "exit $rc, expected 2: $(head -c 300 out)"; return 1; }
  grep -q 'mine: not a sweep directory (it holds notes.txt)' out || { rt_tools_why "unclear: $(head -c 300 out)"; return 1; }
  [[ $(ls mine | tr '\n' ' ') == "notes.txt sweep.toml " && $(cat mine/sweep.toml) == "x = 1" ]] ||
    { rt_tools_why "the directory was changed: $(ls mine | tr '\n' ' ')"; return 1; }
}
rt_scenario "an unrelated --dir is refused and left as it was" rt_tools_foreign_dir

rt_tools_other_sweeps_dir() {
  rt_tools_fake_binary
  rt_tools_spec first '"run.seed" = [1]'
  rt_tools_spec second '"run.seed" = [2]'
  "$SWEEP" run first.toml --dir D --binary ./fake >out 2>&1 || { rt_tools_why "setup: $(tail -c 300 out)"; return 1; }
  cp D/sweep.toml before.toml
  "$SWEEP" run second.toml --dir D --binary ./fake >out 2>&1
  local rc=$?
  ((rc == 2)) || { rt_tools_why "exit $rc, expected 2: $(head -c 300 out)"; return 1; }
  grep -q "D: the directory of sweep 'first' (sweep.toml), not of 'second'" out || { rt_tools_why "unclear: $(head -c 300 out)"; return 1; }
  cmp -s before.toml D/sweep.toml || { rt_tools_why "sweep.toml was overwritten"; return 1; }
}
rt_scenario "another sweep's --dir is refused, its sweep.toml kept" rt_tools_other_sweeps_dir

rt_exit "a base config that is a FIFO: 'not a regular file', no hang" 2 'fifo\.toml: is not a regular file' -- \
  bash -c 'mkfifo fifo.toml && printf "[sweep]\nconfig = \"fifo.toml\"\n[grid]\n\"run.seed\" = [1]\n" >s.toml && "$SWEEP" list s.toml'
rt_exit "a spec that is a FIFO: no hang" 2 'spec\.toml: is not a regular file' -- bash -c 'mkfifo spec.toml && "$SWEEP" list spec.toml'

# --- tools/gpt_checkpoint.py ---------------------------------------------------------------------------

# A copy of one short gpt simulation (made once per replay) in ./run; $1 (optional): Python that edits the
# checkpoint's payload `p` (cbor2-decoded) or sets `raw` (its bytes); the header is made valid again.
rt_tools_gpt_run() {
  local base=$RT_WORK/gpt-run
  [[ -d $base ]] || "$RM" simulate -c "$ROOT/tests/configs/good/gpt_tiny.toml" --set run.time_budget_s=0.5 \
    --out "$base" >/dev/null 2>&1 || { rt_tools_why "setup run failed"; return 1; }
  cp -r "$base" run
  [[ -z ${1:-} ]] || /usr/bin/python3 - "$1" <<'PY'
import struct, sys, zlib
import cbor2
data = open("run/checkpoint.bin", "rb").read()
p, raw = cbor2.loads(data[20:]), None
exec(sys.argv[1])
payload = raw if raw is not None else cbor2.dumps(p)
open("run/checkpoint.bin", "wb").write(data[:8] + struct.pack("<QI", len(payload), zlib.crc32(payload)) + payload)
PY
}

# gpt_checkpoint.py on ./run — its checkpoint edited by $3 (rt_tools_gpt_run), then $4 run (a shell command)
# — exits $1 with its last line on stderr matching $2 (its only line for bad input: exit 2), no traceback.
# Further arguments go to the tool.
rt_tools_gpt_refuses() {
  local code=$1 regex=$2 patch=$3 setup=$4
  rt_tools_gpt_run "$patch" || return 1
  eval "$setup" || { rt_tools_why "setup failed: $setup"; return 1; }
  timeout -k 5 120 "$GPT_CHECKPOINT" run --sample "x" --tokens 4 "${@:5}" >out 2>err
  local rc=$?
  ((rc == code)) || { rt_tools_why "exit $rc, expected $code: $(head -c 300 err)"; return 1; }
  ((code != 2 || $(wc -l <err) == 1)) && ! grep -q Traceback err || { rt_tools_why "not one line: $(head -c 300 err)"; return 1; }
  tail -n 1 err | grep -qE -- "$regex" || { rt_tools_why "no /$regex/: $(head -c 300 err)"; return 1; }
}
rt_tools_ckpt_fifo() { rt_tools_gpt_refuses 2 'run/checkpoint.bin: is not a regular file' '' 'rm run/checkpoint.bin && mkfifo run/checkpoint.bin'; }
rt_tools_config_fifo() { rt_tools_gpt_refuses 2 'run/config.toml: is not a regular file' '' 'rm run/config.toml && mkfifo run/config.toml'; }
rt_tools_ckpt_zero() { rt_tools_gpt_refuses 2 'run/checkpoint.bin: is not a regular file' '' 'ln -sf /dev/zero run/checkpoint.bin'; }
rt_tools_huge_string() {
  rt_tools_gpt_refuses 2 'a length of 1000000000000000 bytes with 0 bytes left' \
    'raw = bytes([0xa1, 0x61, 0x78, 0x7b]) + (10**15).to_bytes(8, "big")' true
}
rt_tools_deep() { rt_tools_gpt_refuses 2 'nested more than 32 deep' 'raw = b"\x81" * 150000 + b"\x00"' true; }
rt_tools_torn_x() { rt_tools_gpt_refuses 2 'x is not a float32 array \(bytes of [0-9]+ bytes\)' 'p["x"] = p["x"][:-1]' true; }
rt_tools_no_gpt() {
  rt_tools_gpt_refuses 2 'config\.toml: no \[objective\.gpt\] table' '' "sed -i 's/^\[objective.gpt\]/[objective.gpu]/' run/config.toml"
}
rt_tools_width_text() {
  rt_tools_gpt_refuses 2 "objective\.gpt\.width: expected an integer in \[2, 8192\], got '64'" '' \
    "sed -i 's/^width = .*/width = \"64\"/' run/config.toml"
}
rt_tools_save_missing() {
  rt_tools_gpt_refuses 1 'nowhere/model\.pt: cannot be written: No such file or directory' '' true --save nowhere/model.pt
}
rt_scenario "gpt_checkpoint: checkpoint.bin a FIFO: exit 2, no hang" rt_tools_ckpt_fifo
rt_scenario "gpt_checkpoint: config.toml a FIFO: exit 2, no hang" rt_tools_config_fifo
rt_scenario "gpt_checkpoint: checkpoint.bin linked to /dev/zero: exit 2, not read" rt_tools_ckpt_zero
rt_scenario "gpt_checkpoint: a string announced at 1e15 bytes: exit 2 before allocating" rt_tools_huge_string
rt_scenario "gpt_checkpoint: 150,000 nested arrays: exit 2, no RecursionError" rt_tools_deep
rt_scenario "gpt_checkpoint: an x that is not whole float32s: exit 2" rt_tools_torn_x
rt_scenario "gpt_checkpoint: config.toml without [objective.gpt]: exit 2 naming it" rt_tools_no_gpt
rt_scenario "gpt_checkpoint: width = \"64\": exit 2 naming the key" rt_tools_width_text
rt_scenario "gpt_checkpoint: --save into a missing directory: exit 1 naming the file" rt_tools_save_missing

# heads 2, context 32 into heads 4, context 64: as many parameters, another network
rt_tools_other_shape() {
  local tiny=$ROOT/tests/configs/good/gpt_tiny.toml
  "$RM" simulate -c "$tiny" --set objective.gpt.heads=2 --set objective.gpt.context=32 --set run.time_budget_s=0.3 \
    --out a >/dev/null 2>&1 &&
    "$RM" simulate -c "$tiny" --set objective.gpt.heads=4 --set objective.gpt.context=64 --set run.time_budget_s=0.3 \
      --out b >/dev/null 2>&1 || { rt_tools_why "setup runs failed"; return 1; }
  cp a/checkpoint.bin b/checkpoint.bin
  "$GPT_CHECKPOINT" b --sample "x" --tokens 4 >out 2>err
  local rc=$?
  ((rc == 2)) || { rt_tools_why "exit $rc, expected 2 (the binary refuses it): $(head -c 300 err)"; return 1; }
  grep -q 'b/checkpoint.bin: written by a different configuration than b/config.toml' err ||
    { rt_tools_why "unclear: $(head -c 300 err)"; return 1; }
  "$RM" sample --run b --tokens 4 >/dev/null 2>&1
  (($? == 2)) || { rt_tools_why "the binary no longer refuses the pair"; return 1; }
}
rt_scenario "gpt_checkpoint: a checkpoint of another shape with as many parameters is refused, as sample refuses it" rt_tools_other_shape

rt_tools_help() {
  "$GPT_CHECKPOINT" --help >out 2>&1 || { rt_tools_why "exit $?"; return 1; }
  tr -s ' \n' ' ' <out | grep -q 'saves its state_dict and/or greedy-decodes text from it\.' ||
    { rt_tools_why "the description stops short: $(head -c 300 out)"; return 1; }
}
rt_scenario "gpt_checkpoint --help says its whole first sentence" rt_tools_help

# --- tools/runs.py and ringmaster eval (issue #26) -----------------------------------------------------

export RUNS=$ROOT/tools/runs.py
# $1 (a shell command on ./run, a copy of the short gpt simulation), then `$2...` run under a timeout: exit 2
# with one line on stderr matching $3, no traceback, nothing on stdout.
rt_tools_reader_refuses() {
  local setup=$1 regex=$2
  shift 2
  rt_tools_gpt_run '' || return 1
  eval "$setup" || { rt_tools_why "setup failed: $setup"; return 1; }
  timeout -k 5 120 "$@" >out 2>err
  local rc=$?
  ((rc == 2)) || { rt_tools_why "exit $rc, expected 2: $(head -c 300 err)"; return 1; }
  (($(wc -l <err) == 1)) && ! grep -q Traceback err && [[ ! -s out ]] || { rt_tools_why "not one line: $(head -c 300 err)"; return 1; }
  grep -qE -- "$regex" err || { rt_tools_why "no /$regex/: $(head -c 300 err)"; return 1; }
}
rt_tools_runs_eval_fifo() {
  rt_tools_reader_refuses 'rm run/eval.csv && mkfifo run/eval.csv' 'run/eval.csv: is not a regular file' "$RUNS" show run
}
rt_tools_runs_config_zero() {
  rt_tools_reader_refuses 'ln -sf /dev/zero run/config.toml' 'run/config.toml: is not a regular file' "$RUNS" compare run run
}
rt_tools_runs_summary_deep() {
  rt_tools_reader_refuses 'python3 -c "print(\"[\" * 200000 + \"]\" * 200000)" >run/summary.json' \
    'run/summary.json: (not JSON|nested)' "$RUNS" show run
}
rt_tools_eval_data_fifo() {
  rt_tools_reader_refuses 'mkfifo text' '--data \(a run of objective.kind = "gpt"\): text: is not a regular file' \
    "$RM" eval --run run --data text
}
rt_tools_eval_damaged() {
  rt_tools_reader_refuses 'printf "\x01" | dd of=run/checkpoint.bin bs=1 seek=100 conv=notrunc status=none' \
    'checkpoint run/checkpoint.bin: checksum mismatch' "$RM" eval --run run
}
rt_scenario "runs.py: eval.csv a FIFO: exit 2, no hang" rt_tools_runs_eval_fifo
rt_scenario "runs.py: config.toml linked to /dev/zero: exit 2, not read" rt_tools_runs_config_zero
rt_scenario "runs.py: a summary.json of 200,000 nested arrays: exit 2, no RecursionError" rt_tools_runs_summary_deep
rt_scenario "ringmaster eval: --data a FIFO: exit 2, no hang" rt_tools_eval_data_fifo
rt_scenario "ringmaster eval: a checkpoint with a flipped byte: exit 2 naming it" rt_tools_eval_damaged
