#!/usr/bin/env bash
# The MPI server's update on 1 and 2 threads (docs/benchmarks.md, "The server's update on several cores"):
# `ringmaster bench server` on the layouts of gpt_tiny, the Fashion-MNIST MLP and a 4-layer width-128 gpt,
# then the small gpt layouts below and above the one-thread threshold (block_parallel_updates'
# kMinParallelFlops) with the threshold off (--min-mflop 0), to show where a second thread stops paying.
# Each bench prints the load average before and after it: the machine is shared, and a core taken by
# another process for the length of a measurement makes 2 threads look like 1 (run it again then).
#
# Usage: scripts/bench-server.sh [REPEATS]      (default 1; BUILD = build directory, default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
repeats=${1:-1}
for ((i = 1; i <= repeats; i++)); do
  echo "== repeat $i: $(uptime)"
  "$build/ringmaster" bench server -c configs/gpt_tiny.toml -c configs/fashion_mnist.toml
  "$build/ringmaster" bench server -c configs/gpt_tiny.toml --set objective.gpt.layers=4 \
    --set objective.gpt.width=128 --set objective.gpt.context=128 | grep '^configs'
  for width in 8 16 24 32; do
    "$build/ringmaster" bench server -c configs/gpt_tiny.toml --set objective.gpt.width=$width \
      --set objective.gpt.heads=2 --min-mflop 0 | grep '^configs' | sed "s/^/width $width: /"
  done
done
