# Payloads and data the binary reads (issue #22, part 2): crafted checkpoint payloads behind a valid
# header and CRC, a FIFO or trailing garbage in the data set, data changed between a checkpoint and its
# resume, trace worker ids, a corpus of tiny documents. Every case checks what the README and docs/ promise: the
# exit code, a message naming the file (and line, or key), no crash, no hang, nothing half-written.
# Scenarios print their reason on stderr.

rt_pay_why() { printf '%s\n' "$*" >&2; }

# --- helpers -----------------------------------------------------------------------------------------

RT_PAY_FASHION=/usr/share/datasets/fashion-mnist
RT_PAY_GPT=$ROOT/tests/configs/good/gpt_tiny.toml

# A short simulation of the quadratic with a checkpoint, in DIR (default ./run).
rt_pay_simulated() {
  timeout 120 "$RM" simulate -c "$Q" --set run.max_updates=30 --set objective.rows=4 --set objective.cols=4 \
    --out "${1:-run}" >/dev/null 2>&1
}

# Replaces the payload of checkpoint FILE and fixes its header (length, CRC-32): WHAT is "nest:N" (N
# arrays nested in a map), "pad:HEX" (one more map entry "pad" whose value is the CBOR bytes HEX), or
# "intkey" (one more entry whose key is the integer 1).
rt_pay_payload() {
  python3 - "$1" "$2" <<'PY'
import struct, sys, zlib
path, what = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
payload = data[20:]
kind, _, arg = what.partition(":")
if kind == "nest":
    payload = b"\xa1\x61a" + b"\x81" * int(arg) + b"\x00"
elif kind == "pad":
    assert payload[0] >> 5 == 5 and (payload[0] & 0x1f) < 23, "a map with a one-byte head"
    payload = bytes([payload[0] + 1]) + payload[1:] + b"\x63pad" + bytes.fromhex(arg)
elif kind == "intkey":
    payload = bytes([payload[0] + 1]) + payload[1:] + b"\x01\x02"
out = data[:8] + struct.pack("<Q", len(payload)) + struct.pack("<I", zlib.crc32(payload) & 0xffffffff) + payload
open(path, "wb").write(out)
PY
}

# The run in ./run resumed by `simulate --resume` (or `train --resume` with "mpi"); output in ./out.
rt_pay_resume() {
  if [[ ${1:-sim} == mpi ]]; then
    timeout -k 5 120 mpirun --oversubscribe -np 3 "$RM" train --resume run >out 2>&1
  else
    timeout -k 5 120 "$RM" simulate --resume run >out 2>&1
  fi
}

# Exit code $1 expected of the last command (its output in ./out), and /$2/ in that output.
rt_pay_expect() {
  local rc=$1 expected=$2 regex=$3
  ((rc == expected)) || { rt_pay_why "exit $rc, expected $expected: $(head -c 300 out)"; return 1; }
  grep -qE -- "$regex" out || { rt_pay_why "no /$regex/: $(head -c 300 out)"; return 1; }
}

# events.csv of ./run as it was before a refused resume (saved by the caller in ./events.before).
rt_pay_untouched() {
  cmp -s run/events.csv events.before || { rt_pay_why "a refused resume changed run/events.csv"; return 1; }
  ! ls run/*.tmp >/dev/null 2>&1 || { rt_pay_why "a temporary file was left in run/"; return 1; }
}

# --- crafted checkpoint payloads: structure checked before nlohmann's recursive reader sees it ---------

rt_pay_crafted() {
  local engine=$1 what=$2 regex=$3
  if [[ $engine == mpi ]]; then
    timeout 120 mpirun --oversubscribe -np 3 "$RM" train -c "$Q" --set run.max_updates=30 --set objective.rows=4 \
      --set objective.cols=4 --set heterogeneity.base_s=0.001 --out run >/dev/null 2>&1
  else
    rt_pay_simulated
  fi || { rt_pay_why "setup run failed"; return 1; }
  cp run/events.csv events.before
  rt_pay_payload run/checkpoint.bin "$what" || return 1
  rt_pay_resume "$engine"
  rt_pay_expect $? 2 "checkpoint run/checkpoint.bin: malformed content: byte [0-9]+: $regex" && rt_pay_untouched
}
rt_pay_nest_sim() { rt_pay_crafted sim nest:150000 'arrays and maps nested more than 32 deep'; }
rt_pay_nest_mpi() { rt_pay_crafted mpi nest:150000 'arrays and maps nested more than 32 deep'; }
rt_pay_nest_33() { rt_pay_crafted sim "pad:$(printf '81%.0s' $(seq 31))80" 'arrays and maps nested more than 32 deep'; }
rt_pay_indefinite() { rt_pay_crafted sim pad:9f01ff 'an indefinite length'; }
rt_pay_tag() { rt_pay_crafted sim pad:c11a00000001 'a tag'; }
rt_pay_undefined() { rt_pay_crafted sim pad:f7 'simple value 23'; }
rt_pay_long_text() { rt_pay_crafted sim pad:7b00038d7ea4c68000616263 'a text string of 1000000000000000 bytes with 3 bytes left'; }
rt_pay_no_value() { rt_pay_crafted sim pad: 'the payload ends inside an array or map'; }
rt_pay_int_key() { rt_pay_crafted sim intkey 'a map key that is not text'; }
rt_scenario "checkpoint nesting 150,000 arrays (valid CRC): simulate --resume exits 2 naming it, no crash" rt_pay_nest_sim
rt_scenario "checkpoint nesting 150,000 arrays (valid CRC): train --resume exits 2 on every rank, no SIGSEGV" rt_pay_nest_mpi
rt_scenario "checkpoint with arrays nested 33 deep: exit 2 naming the limit" rt_pay_nest_33
rt_scenario "checkpoint with an indefinite-length array: exit 2" rt_pay_indefinite
rt_scenario "checkpoint with a CBOR tag: exit 2" rt_pay_tag
rt_scenario "checkpoint with the simple value undefined: exit 2" rt_pay_undefined
rt_scenario "checkpoint announcing a 10^15-byte string: exit 2 before allocating" rt_pay_long_text
rt_scenario "checkpoint whose last entry has no value: exit 2" rt_pay_no_value
rt_scenario "checkpoint with an integer map key: exit 2" rt_pay_int_key

# Nesting up to the limit is not refused: an entry nested 31 deep in the map (32 levels) resumes.
rt_pay_nest_32() {
  rt_pay_simulated || { rt_pay_why "setup run failed"; return 1; }
  rt_pay_payload run/checkpoint.bin "pad:$(printf '81%.0s' $(seq 30))80" || return 1
  timeout 120 "$RM" simulate --resume run --set run.max_updates=40 >out 2>&1
  rt_pay_expect $? 0 'stopped \(max_updates\)'
}
rt_scenario "checkpoint with arrays nested 32 deep (the limit): resumes" rt_pay_nest_32

# ringmaster sample reads a gpt run's checkpoint the same way.
rt_pay_sample() {
  timeout 120 "$RM" simulate -c "$RT_PAY_GPT" --set run.max_updates=5 --out run >/dev/null 2>&1 ||
    { rt_pay_why "setup gpt run failed"; return 1; }
  rt_pay_payload run/checkpoint.bin nest:150000 || return 1
  timeout 60 "$RM" sample --run run --tokens 8 >out 2>&1
  rt_pay_expect $? 2 'checkpoint run/checkpoint.bin: malformed content: byte 34: arrays and maps nested more than 32'
}
rt_scenario "sample of a gpt checkpoint nesting 150,000 arrays: exit 2 naming it, no crash" rt_pay_sample

# --- the data set: one reader policy, one gzip member ------------------------------------------------

# A Fashion-MNIST directory of links to the package's files, FILE replaced by what `$2` makes of it.
rt_pay_fashion_dir() {
  mkdir -p data
  local f
  for f in "$RT_PAY_FASHION"/*.gz; do ln -s "$f" data/; done
  rm "data/$1"
  eval "$2"
}
rt_pay_fashion() {
  local engine=$1 file=$2 make=$3 regex=$4
  rt_pay_fashion_dir "$file" "$make" || { rt_pay_why "cannot make the data directory"; return 1; }
  if [[ $engine == mpi ]]; then
    timeout -k 5 60 mpirun --oversubscribe -np 3 "$RM" train -c "$ROOT/configs/fashion_mnist.toml" \
      --set objective.mlp.data_dir=data --out never >out 2>&1
  else
    timeout -k 5 60 "$RM" simulate -c "$ROOT/configs/fashion_mnist.toml" --set objective.mlp.data_dir=data \
      --out never >out 2>&1
  fi
  rt_pay_expect $? 2 "data/$file: $regex.*apt-get install dataset-fashion-mnist" || return 1
  [[ ! -e never ]] || { rt_pay_why "a run directory was created"; return 1; }
}
rt_pay_fifo_sim() { rt_pay_fashion sim train-images-idx3-ubyte.gz 'mkfifo data/train-images-idx3-ubyte.gz' 'is not a regular file'; }
rt_pay_fifo_mpi() { rt_pay_fashion mpi train-images-idx3-ubyte.gz 'mkfifo data/train-images-idx3-ubyte.gz' 'is not a regular file'; }
rt_pay_garbage() {
  rt_pay_fashion sim t10k-labels-idx1-ubyte.gz \
    '{ cat "$RT_PAY_FASHION/t10k-labels-idx1-ubyte.gz"; echo garbage; } >data/t10k-labels-idx1-ubyte.gz' \
    'garbage after the gzip member'
}
rt_pay_magic() {
  rt_pay_fashion sim t10k-labels-idx1-ubyte.gz \
    'python3 -c "import gzip,sys; d=bytearray(gzip.open(sys.argv[1]).read()); d[3]=3; gzip.open(sys.argv[2],\"wb\").write(d)" "$RT_PAY_FASHION/t10k-labels-idx1-ubyte.gz" data/t10k-labels-idx1-ubyte.gz' \
    'wrong magic number 0x00000803 \(an IDX labels \(idx1-ubyte\) file has 0x00000801\)'
}
rt_pay_sparse_images() {
  rt_pay_fashion sim t10k-images-idx3-ubyte.gz \
    'cp "$RT_PAY_FASHION/t10k-images-idx3-ubyte.gz" data/ && truncate -s 4G data/t10k-images-idx3-ubyte.gz' \
    'is 4294967296 bytes, more than the'
}
rt_scenario "a FIFO in place of a Fashion-MNIST file: simulate exits 2 naming it, no hang" rt_pay_fifo_sim
rt_scenario "a FIFO in place of a Fashion-MNIST file: train exits 2 on every rank, no hang" rt_pay_fifo_mpi
rt_scenario "garbage after a Fashion-MNIST file's gzip member: exit 2 naming it" rt_pay_garbage
rt_scenario "a wrong IDX magic: the whole message, expected value included" rt_pay_magic
rt_scenario "a Fashion-MNIST file of 4 GiB (sparse): exit 2 before reading it" rt_pay_sparse_images

# --- data changed between a checkpoint and its resume: refused, naming what changed -------------------

rt_pay_corpus() {
  mkdir -p corpus
  local f d
  for f in a b c d; do
    for d in $(seq 1 30); do printf '%s: document %d, long enough for a window\n%%\n' "$f" "$d"; done >corpus/$f.txt
  done
}
rt_pay_corpus_halved() {
  rt_pay_corpus
  timeout 120 "$RM" simulate -c "$RT_PAY_GPT" --set objective.gpt.corpus=corpus --set run.max_updates=10 \
    --out run >/dev/null 2>&1 || { rt_pay_why "setup gpt run failed"; return 1; }
  cp run/events.csv events.before
  rm corpus/c.txt corpus/d.txt  # half of the corpus, under the same path
  rt_pay_resume
  rt_pay_expect $? 2 "checkpoint run/checkpoint.bin: the run's data changed since it was written: corpus: c.txt disappeared .*; d.txt disappeared" &&
    rt_pay_untouched
}
rt_scenario "resume after half the corpus files were removed: exit 2 naming them, nothing appended" rt_pay_corpus_halved

rt_pay_corpus_same() {
  rt_pay_corpus
  timeout 120 "$RM" simulate -c "$RT_PAY_GPT" --set objective.gpt.corpus=corpus --set run.max_updates=10 \
    --out run >/dev/null 2>&1 || { rt_pay_why "setup gpt run failed"; return 1; }
  touch corpus/*.txt  # a new mtime, the same content: not a change
  timeout 120 "$RM" simulate --resume run --set run.max_updates=20 >out 2>&1
  rt_pay_expect $? 0 'resuming at k=10'
}
rt_scenario "resume with the same corpus (files touched): resumes" rt_pay_corpus_same

rt_pay_fashion_changed() {
  mkdir -p data
  local f
  for f in "$RT_PAY_FASHION"/*.gz; do ln -s "$f" data/; done
  timeout 120 "$RM" simulate -c "$ROOT/configs/fashion_mnist.toml" --set objective.mlp.data_dir=data \
    --set run.max_updates=5 --set heterogeneity.compute_s=0.01 --out run >/dev/null 2>&1 ||
    { rt_pay_why "setup mlp run failed"; return 1; }
  cp run/events.csv events.before
  # The test labels, two of them swapped: a valid file of the same size (a package update would do this).
  rm data/t10k-labels-idx1-ubyte.gz
  python3 -c '
import gzip, sys
d = bytearray(gzip.open(sys.argv[1]).read()); i = next(i for i in range(9, len(d)) if d[i] != d[8])
d[8], d[i] = d[i], d[8]; gzip.open(sys.argv[2], "wb").write(d)' "$RT_PAY_FASHION/t10k-labels-idx1-ubyte.gz" data/t10k-labels-idx1-ubyte.gz
  rt_pay_resume
  rt_pay_expect $? 2 "the run's data changed since it was written: data: t10k-labels-idx1-ubyte.gz changed \(10008 bytes, CRC-32 [0-9a-f]{8} then, 10008 bytes" &&
    rt_pay_untouched
}
rt_scenario "resume after a Fashion-MNIST file changed (same size): exit 2 naming it" rt_pay_fashion_changed

# --- trace worker ids: bounded by the run, duplicate columns refused ---------------------------------

# A 2-worker simulation (or a 3-rank train) replaying trace.csv; output in ./out.
rt_pay_trace() {
  printf '%b' "$2" >trace.csv
  if [[ $1 == mpi ]]; then
    timeout -k 5 120 mpirun --oversubscribe -np 3 "$RM" train -c "$Q" --set objective.rows=4 --set objective.cols=4 \
      --set run.time_budget_s=1 --set heterogeneity.profile=trace --set heterogeneity.trace=trace.csv --out run >out 2>&1
  else
    timeout -k 5 120 "$RM" simulate -c "$Q" --set run.workers=2 --set run.time_budget_s=1 \
      --set heterogeneity.profile=trace --set heterogeneity.trace=trace.csv --out run >out 2>&1
  fi
}
rt_pay_trace_huge_id() {
  rt_pay_trace "$1" 'worker,seconds\n1,0.01\n2,0.01\n1000000000,0.01\n'
  rt_pay_expect $? 0 'trace.csv: 1 row of worker 1000000000 is not replayed: the run has 2 workers' || return 1
  local said
  said=$(grep -c 'is not replayed' out)
  ((said == 1)) || { rt_pay_why "said $said times, expected once"; return 1; }
}
rt_pay_trace_huge_id_sim() { rt_pay_trace_huge_id sim; }
rt_pay_trace_huge_id_mpi() { rt_pay_trace_huge_id mpi; }
rt_scenario "trace row of worker 10^9: the run goes on, one warning naming the file, no 'out of memory'" rt_pay_trace_huge_id_sim
rt_scenario "trace row of worker 10^9 under train: one warning (not one per rank), exit 0" rt_pay_trace_huge_id_mpi
rt_pay_trace_bad() {
  rt_pay_trace sim "$1"
  rt_pay_expect $? 2 "heterogeneity.trace: trace.csv:$2" || return 1
  [[ ! -e run ]] || { rt_pay_why "a run directory was created"; return 1; }
}
rt_pay_trace_dup() { rt_pay_trace_bad 'worker,seconds,seconds\n1,0.5,9\n2,0.5,9\n' "1: the header names 'seconds' twice \(columns 2 and 3\)"; }
rt_pay_trace_zero() { rt_pay_trace_bad 'worker,seconds\n0,0.5\n' '2: worker must be an integer in \[1, 1e9\], got "0"'; }
rt_pay_trace_too_big() { rt_pay_trace_bad 'worker,seconds\n1,0.5\n2,0.5\n1e10,0.5\n' '4: worker must be an integer in \[1, 1e9\]'; }
rt_scenario "trace with two 'seconds' columns: exit 2 naming file:1 and both columns" rt_pay_trace_dup
rt_scenario "trace row of worker 0: exit 2 naming file:line and the range [1, 1e9]" rt_pay_trace_zero
rt_scenario "trace row of worker 1e10: exit 2 naming file:line" rt_pay_trace_too_big

# --- the corpus: stored compactly and counted by the memory check ------------------------------------

# 20 MB of 5 million tiny documents: the peak resident memory of a run on it, over that of a run on
# a 1-document-per-line corpus of a few KB, must stay within 3 times the corpus (it was 11.6 times).
rt_pay_corpus_memory() {
  python3 -c '
import sys
with open("tiny.txt", "wb") as f:
    f.write(b"".join(bytes([97 + i % 26]) + b"\n%\n" for i in range(5_000_000)))
with open("small.txt", "wb") as f:
    f.write(b"".join(b"document %d, long enough for a window of the tiny model\n%%\n" % i for i in range(100)))'
  local corpus base big
  for corpus in small tiny; do
    /usr/bin/time -o "$corpus.rss" -f '%M' timeout 120 "$RM" simulate -c "$RT_PAY_GPT" \
      --set objective.gpt.corpus=$corpus.txt --set run.max_updates=2 --out $corpus >/dev/null 2>&1 ||
      { rt_pay_why "the run on $corpus.txt failed"; return 1; }
  done
  base=$(tail -1 small.rss) big=$(tail -1 tiny.rss)
  [[ $base =~ ^[0-9]+$ && $big =~ ^[0-9]+$ ]] || { rt_pay_why "no peak RSS measured: '$base', '$big'"; return 1; }
  local corpus_kb=$((20000000 / 1024))
  ((big - base <= 3 * corpus_kb)) ||
    { rt_pay_why "peak RSS $big KiB against $base KiB for a small corpus: more than 3 x the corpus's $corpus_kb KiB"; return 1; }
}
rt_scenario "a corpus of 5 million tiny documents: peak memory within 3 x its size" rt_pay_corpus_memory

rt_pay_corpus_sparse() {
  printf 'text\n%%\nmore text\n' >huge.txt && truncate -s 1T huge.txt
  timeout 60 "$RM" simulate -c "$RT_PAY_GPT" --set objective.gpt.corpus=huge.txt --out never >out 2>&1
  rt_pay_expect $? 2 'objective.gpt.corpus: "huge.txt" holds 1.1e\+12 bytes, read whole by every process' || return 1
  [[ ! -e never ]] || { rt_pay_why "a run directory was created"; return 1; }
}
rt_scenario "a 1 TiB (sparse) corpus: the memory check names objective.gpt.corpus, exit 2" rt_pay_corpus_sparse
