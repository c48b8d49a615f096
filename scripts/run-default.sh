#!/usr/bin/env bash
# The default experiment (README): installs what is missing, builds, and trains Ringmaster LMO on the
# stochastic 64×64 quadratic with 8 heterogeneous workers (compute time ∝ √i) under mpirun for 60 s.
# Extra arguments go to `ringmaster train`, e.g. --set run.time_budget_s=10 or --out DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target ringmaster

# Open MPI refuses root unless told, and 9 ranks need more slots than a small machine's cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
log=$(mktemp)
mpirun --oversubscribe -np 9 build/ringmaster train -c configs/quadratic.toml "$@" 2>&1 | tee "$log"
run_dir=$(sed -n 's/.*run directory \(.*\)$/\1/p' "$log" | tail -n 1)
rm -f "$log"
cat <<MSG

Results are in $run_dir:
  summary.json  the outcome: final_loss and best_loss are f(X) − f* (0 is optimal), initial_loss is
                f(X0) − f*, time_to_relative_target gives the training seconds at which the loss first
                fell below each fraction of the initial loss; accepted/discarded/interrupted count how
                the server treated the workers' gradients.
  eval.csv      f(X) − f* and the nuclear norm of the full gradient, once per second of training.
  events.csv    every gradient arrival (accept / discard / superseded) and every interrupt.
  workers.csv   per worker: gradients computed, accepted, ..., busy and injected seconds.
MSG
