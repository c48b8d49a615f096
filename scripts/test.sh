#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, builds Ringmaster twice — optimized, and
# with AddressSanitizer + UndefinedBehaviorSanitizer — and runs every ctest test in both builds.
# Unit tests run two at a time; the tests that start mpirun jobs run one at a time (they oversubscribe
# the cores, and some measure how fast ranks react).
set -euo pipefail
cd "$(dirname "$0")/.."
# A phase's heading, with the time since the start: CI has 30 minutes, and its log shows where they go.
phase() { printf '== [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }
phase "packages (scripts/bootstrap.sh)"
scripts/bootstrap.sh

jobs=$(nproc)
# Tests that compare wall-clock behaviour with a model of it run in the optimized build only: a sanitizer
# makes every step several times slower, and the model no longer describes the machine.
timing_models='MlpRun.EnginesAgreeOnTheAccuracyCurve|EnginesAgree.MpiAndSimulationOfTheSameConfig'
# Tests whose code paths other tests already take under the sanitizers, left to the optimized build to
# keep CI within its time: the Slurm job scripts (shell and Python around the same binary) and the
# signal-then-resume equivalence (the resume paths run under the sanitizers in Reliability.ResumeAfter*).
long_repeats='slurm_array_sweep|Reliability.SignalMidwayThenResumeMatchesUninterruptedRun'
run_suite() {
  local dir=$1 exclude=$2
  shift 2
  (cd "$dir" && "$@" ctest --output-on-failure -L unit -j"$jobs" && "$@" ctest --output-on-failure -L mpi ${exclude:+-E "$exclude"})
}

phase "optimized build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
run_suite build "" env

phase "sanitizer build (ASan + UBSan)"
# -O1 -g1 (line tables: enough for the sanitizers' stack traces): compiling this build is the largest
# piece of CI, and -O1 compiles the heavy files (config.cpp, test_methods.cpp) 35-45% faster than -O2.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGMASTER_SANITIZE=ON \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"
cmake --build build-asan -j"$jobs"
run_suite build-asan "$timing_models|$long_repeats" env UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

phase "fuzzing (clang, libFuzzer, ASan + UBSan): config loader, TOML subset, checkpoint reader and payload decoder, 20 s side by side"
scripts/fuzz.sh 20

phase "reproducibility: regenerate the small published sweep with other BLAS kernels; its conclusions must hold"
rm -rf build/sweep-ci-check && OPENBLAS_CORETYPE=Haswell tools/sweep.py check configs/sweeps/ci-check.toml --published docs/results --dir build/sweep-ci-check --jobs "$jobs"
phase "done"
