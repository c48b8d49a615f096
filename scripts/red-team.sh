#!/usr/bin/env bash
# The red-team replay: hostile inputs and fault scenarios against a built binary,
# each with the behaviour the README and docs/ promise (exit code, message, files left behind). Cases live in
# scripts/red-team/*.sh, one file per class of defect; lib.sh says how a case is written.
#
#   scripts/red-team.sh [BUILD_DIR] [PATTERN]   # default build/; PATTERN (grep -E) picks cases by name
#
# Prints one line per case and, last, "N passed, N failed"; exits non-zero if any case failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
export RT_FILTER=${2:-}
export RM=$(cd "$build" && pwd)/ringmaster
[[ -x $RM ]] || { echo "red-team: no binary at $RM (build first: cmake --build $build)" >&2; exit 2; }
export ROOT=$root
export RT_WORK=$(mktemp -d /tmp/ringmaster-red-team.XXXXXX)
trap 'rm -rf "$RT_WORK"' EXIT
source "$root/scripts/red-team/lib.sh"
for file in "$root"/scripts/red-team/[0-9]*.sh; do
  source "$file"
done
rt_summary
