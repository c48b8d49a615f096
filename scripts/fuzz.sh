#!/usr/bin/env bash
# Fuzz the config loader (with toml++ itself compiled in and instrumented), the TOML subset's recognizer,
# the checkpoint reader and the checkpoint's payload decoder: builds the libFuzzer targets of tests/fuzz
# with clang, ASan and UBSan in build-fuzz/, then runs fuzz_config, fuzz_checkpoint, fuzz_checkpoint_payload
# and fuzz_toml_subset side by side (sharing the cores: the wall time is SECONDS, not four times it) for
# SECONDS (default 60) from the seeds in tests/. Exits non-zero on any crash,
# leak, timeout, out-of-memory or sanitizer report, and keeps the inputs that caused it in
# build-fuzz/artifacts/. The seeds are copied to a temporary directory: the repository is not modified.
#
#   scripts/fuzz.sh [SECONDS]
#   build-fuzz/tests/fuzz/fuzz_config FILE...   # replay inputs (an artifact, a seed) once each
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
scripts/bootstrap.sh

# -O1 with line tables, as libFuzzer recommends; assertions stay on (no NDEBUG).
echo "== fuzz build (clang, libFuzzer, ASan + UBSan)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DRINGMASTER_FUZZ=ON -DRINGMASTER_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -gline-tables-only" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only"
cmake --build build-fuzz -j"$(nproc)" --target fuzz_config fuzz_checkpoint fuzz_checkpoint_payload fuzz_toml_subset

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts=$PWD/build-fuzz/artifacts

# Seeds per target: its corpus directory in tests/fuzz/corpus, plus, for the config loader, the test
# configs (tests/configs/good and bad: every kind of error load_config reports).
declare -A seeds=(
  [fuzz_config]="tests/fuzz/corpus/config tests/configs/good tests/configs/bad"
  [fuzz_checkpoint]="tests/fuzz/corpus/checkpoint"
  [fuzz_checkpoint_payload]="tests/fuzz/corpus/checkpoint-payload"
)
targets=(fuzz_config fuzz_checkpoint fuzz_checkpoint_payload)
# Longest input per target: the config loader's must reach nesting deep enough to have overflowed the
# stack inside toml++ (~31,000 levels of a dotted name: 62 KB; libFuzzer's default is 4 KB). The payload
# decoder refuses nesting past 32 levels: 8 KB reach far past that (the 150,000-level seed is cut to it,
# still thousands of levels deep) and keep the runs fast.
declare -A max_len=([fuzz_config]=100000 [fuzz_checkpoint]=0 [fuzz_checkpoint_payload]=8192)
# The recognizer of the TOML subset a config may use (src/config/toml_subset.cpp) with toml++ alone.
seeds[fuzz_toml_subset]="tests/fuzz/corpus/toml_subset ${seeds[fuzz_config]}"
targets+=(fuzz_toml_subset)
max_len[fuzz_toml_subset]=0

echo "== fuzzing ${targets[*]} for ${seconds} s each"
pids=()
for t in "${targets[@]}"; do
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  for dir in ${seeds[$t]}; do cp "$dir"/* "$work/$t/corpus/"; done
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "build-fuzz/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="${max_len[$t]}" \
    -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" "$work/$t/corpus" >"$work/$t/log" 2>&1 &
  pids+=($!)
done

failed=0
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  rc=0
  wait "${pids[$i]}" || rc=$?
  log=$work/$t/log
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  status=$(grep -E '^#[0-9]+[[:space:]].* cov: ' "$log" | tail -1 || true)  # the last status line (DONE)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
  features=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
  corpus=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$status")
  crashes=$(find "$work/$t/artifacts" -type f | wc -l)
  if ((rc != 0 || crashes != 0)); then
    failed=1
    echo "---- $t: libFuzzer output (last 60 lines)"
    tail -n 60 "$log"
    mkdir -p "$artifacts"
    cp "$work/$t/artifacts"/* "$artifacts/" 2>/dev/null || true
    cp "$log" "$artifacts/$t.log"
    echo "---- $t: inputs and log kept in $artifacts; replay: build-fuzz/tests/fuzz/$t $artifacts/<input>"
  fi
  echo "fuzz: $t: ${runs:-?} runs in ${seconds} s, coverage ${cov:-?} edges / ${features:-?} features," \
    "corpus ${corpus:-?} inputs, crashes $crashes, exit $rc -> $( ((rc == 0 && crashes == 0)) && echo OK || echo FAILED)"
done
exit "$failed"
