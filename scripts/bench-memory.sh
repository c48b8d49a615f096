#!/usr/bin/env bash
# Memory of the MPI engine (docs/method.md §1 "Memory", docs/benchmarks.md "Memory of the MPI engine"):
# runs one job of WORKERS workers (default 16) on a ROWS×ROWS quadratic (default 4096: x is 64 MiB) with
# the l2 geometry (an LMO without Newton–Schulz workspaces, so updates are cheap enough for a short
# budget) and cheap injected delays, and prints each rank's peak resident memory against its bound:
#
#   server ≤ (V + 3) · X + LMO workspace + objective + evaluation + 64 MiB
#   worker ≤ 2 · X + objective working set + 64 MiB
#
# X = bytes(x) (one point message), V = versions in flight (the point buffers the server made:
# summary.json "memory"), LMO workspace = the optimizer's input and output buffers (2 X; l2 needs no
# more), objective on the server = B, X* (double) and X* in float (4 X), evaluation = the evaluator's
# gradient and up to two snapshots of x (3 X), objective working set on a worker = B, X*, X* in
# float, A X − B and X − X* (6 X). Peaks are read twice: by sampling VmHWM of every rank (found by
# its OMPI_COMM_WORLD_RANK) every 50 ms while it runs, and from summary.json "memory" (getrusage
# ru_maxrss reported by the ranks themselves), where the binary writes it; a binary from before that
# field is measured by sampling only. The server's verdict is on its reported peak, taken after the
# final evaluation and before the final checkpoint (which holds x and m a few times over for a moment:
# the sampled peak, printed beside it).
#
# Usage: scripts/bench-memory.sh [--set key=value]...
# Environment: BINARY (default build/ringmaster), WORKERS (16), ROWS (4096), BUDGET (20 s of training),
# KEEP=1 keeps the run directory.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${BINARY:-build/ringmaster}
workers=${WORKERS:-16}
rows=${ROWS:-4096}
budget=${BUDGET:-20}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mktemp -d)
trap '[[ ${KEEP:-0} == 1 ]] || rm -rf "$out"' EXIT
mpirun --oversubscribe -np $((workers + 1)) "$binary" train -c configs/quadratic.toml \
  --set objective.rows="$rows" --set objective.cols="$rows" --set lmo.geometry=\"l2\" \
  --set heterogeneity.base_s=0.01 --set run.time_budget_s="$budget" --set run.eval_every_s=5 "$@" \
  --out "$out/run" >"$out/log" 2>&1 &
job=$!
python3 - "$out/run" "$job" "$workers" >"$out/samples" <<'EOF'
# Samples VmHWM of every rank of the job writing into sys.argv[1] until mpirun (sys.argv[2]) ends.
import json, os, sys, time
out, job, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
peak = {}
pids = {}
while os.path.exists(f"/proc/{job}") and open(f"/proc/{job}/stat").read().split(")")[-1].split()[0] != "Z":
    if len(pids) < workers + 1:
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in pids.values():
                continue
            try:
                cmdline = open(f"/proc/{name}/cmdline", "rb").read()
                if out.encode() not in cmdline or b"train" not in cmdline:
                    continue
                env = open(f"/proc/{name}/environ", "rb").read().split(b"\0")
            except OSError:
                continue
            for entry in env:
                if entry.startswith(b"OMPI_COMM_WORLD_RANK="):
                    pids[int(entry.split(b"=")[1])] = int(name)
    for rank, pid in pids.items():
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmHWM:"):
                    peak[rank] = max(peak.get(rank, 0), int(line.split()[1]) * 1024)
        except OSError:
            pass
    time.sleep(0.05)
json.dump({str(r): v for r, v in peak.items()}, sys.stdout)
EOF
wait "$job" || { cat "$out/log" >&2; exit 1; }
[[ ${KEEP:-0} == 1 ]] && echo "run directory: $out/run"
python3 - "$out/run" "$out/samples" "$workers" "$rows" <<'EOF'
import json, os, sys
run, samples, workers, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
summary = json.load(open(os.path.join(run, "summary.json")))
sampled = {int(r): v for r, v in json.load(open(samples)).items()}
memory = summary.get("memory")
MiB = 2.0 ** 20
X = memory["point_bytes"] if memory else (16 + 4 * rows * rows + 63) // 64 * 64
print(f"workers={workers} x={rows}x{rows} bytes(x)={X / MiB:.1f} MiB updates={summary['updates']} "
      f"arrivals={summary['arrivals']} train_time_s={summary['train_time_s']:.1f} "
      f"updates_per_s={summary['updates'] / summary['train_time_s']:.2f}")
if memory:
    print(f"server buffers: point={memory['point_buffers']} (versions in flight) gradient={memory['gradient_buffers']}")
def report(rank, bound, parts):
    own = None
    if memory:
        own = memory["server_peak_rss_bytes"] if rank == 0 else memory["worker_peak_rss_bytes"][rank - 1]
    peak = max(v for v in (own, sampled.get(rank)) if v is not None)
    print(f"rank {rank:2d}: peak {peak / MiB:7.1f} MiB (sampled {sampled.get(rank, 0) / MiB:7.1f}, "
          f"reported {own / MiB if own else float('nan'):7.1f}) bound {bound / MiB:7.1f} MiB = {parts}: "
          f"{'within' if peak <= bound else 'ABOVE'} ({peak / bound:.2f})")
    return peak <= bound
versions = memory["point_buffers"] if memory else None
ok = True
if versions is not None:
    # The server reports its peak before the final checkpoint, which copies x and m through its
    # encoding (about 6 X more for a moment: x and m, their CBOR binaries, the file's bytes); sampling
    # sees that too.
    bound = (versions + 3 + 2 + 4 + 3) * X + 64 * MiB
    own = memory["server_peak_rss_bytes"]
    ok &= own <= bound
    print(f"rank  0: peak {own / MiB:7.1f} MiB serving and evaluating (reported) bound {bound / MiB:7.1f} MiB = "
          f"({versions} + 3 + 2 LMO + 4 objective + 3 evaluation) X + 64 MiB: "
          f"{'within' if own <= bound else 'ABOVE'} ({own / bound:.2f}); "
          f"with the final checkpoint {sampled.get(0, 0) / MiB:.1f} MiB (sampled; +{(sampled.get(0, 0) - own) / X:.1f} X)")
else:
    ok = False
    print(f"rank  0: peak {sampled.get(0, 0) / MiB:7.1f} MiB (sampled; versions in flight not reported by this binary)")
for rank in range(1, workers + 1):
    ok &= report(rank, (2 + 6) * X + 64 * MiB, "(2 + 6 objective) X + 64 MiB")
print("all ranks within their bounds" if ok else "NOT all ranks within their bounds")
EOF
