#!/usr/bin/env bash
# Simulator throughput (issue "Every method ... simulator"): arrivals per wall second of
# `ringmaster simulate` on the quadratic with 16 workers, sqrt profile, method ringmaster, for 64×64 and
# 256×256. In the same run, the Newton–Schulz LMO alone (bench lmo) gives the ceiling: one LMO per
# accepted arrival. Usage: scripts/bench-sim.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for spec in "64 60" "256 8"; do
  read -r n budget <<<"$spec"
  "$build/ringmaster" simulate -c configs/quadratic.toml --set run.workers=16 --set heterogeneity.profile=sqrt \
    --set run.method=ringmaster --set objective.rows="$n" --set objective.cols="$n" \
    --set run.time_budget_s="$budget" --out "$out/$n" >/dev/null 2>&1
  lmo_s=$("$build/ringmaster" bench lmo --shape "${n}x${n}" --json 2>/dev/null |
    python3 -c "import json,sys; r=[x for x in json.load(sys.stdin)['results'] if x['backend']=='newton-schulz'][0]; print(r['seconds'])")
  python3 - "$out/$n/summary.json" "$n" "$lmo_s" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
n, lmo = sys.argv[2], float(sys.argv[3])
rate = s["arrivals"] / s["wall_time_s"]
print(f"{n}x{n}: {s['arrivals']} arrivals ({s['accepted']} accepted) in {s['wall_time_s']:.2f} s wall = "
      f"{rate:,.0f} arrivals/s; Newton-Schulz alone: {1 / lmo:,.0f} LMO/s "
      f"(arrivals/s ÷ LMO/s = {rate * lmo:.2f})")
PY
done
