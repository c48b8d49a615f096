#!/usr/bin/python3
"""The authors' Ringmaster LMO simulator, re-implemented to check `ringmaster simulate` against it.

The authors publish a discrete-event simulator of their experiments (vectozavr/ringmaster-lmo on GitHub,
commit c2ebc8a: RingmasterMuonASGD over RandomDelayedAsynchronousTransport, src/asynchronous/). This file is
an independent re-implementation of what that simulator computes on a noise-free quadratic, written from
reading it, in float64 numpy as theirs is (docs/method.md §2 "The authors' simulator"):

- Worker i (1-based) takes tau_i = base_s * s_i seconds for every gradient (s_i = sqrt(i) or i), no noise.
  All start at time 0 at x0 = 0.
- The next event is the computation that completes first; equal times go to the lower worker index.
- Every arriving gradient is applied: m <- beta m + (1 - beta) g, u <- beta m + (1 - beta) g (Nesterov),
  x <- x - gamma * sqrt(max(1, rows/cols)) * NS(u), with NS five quintic Newton-Schulz steps on the wide
  orientation with the polar-express coefficients, after dividing by ||u||_F + 1e-7. k advances.
- The arriving worker is handed the new x. Then every other worker handed its point R or more updates ago
  (k - v_j >= R) abandons its computation, even one that completes at this same instant, and is handed the
  new x too; each starts a full tau_j now.

Their simulator charges no time for the server and computes each gradient at the point its worker was handed.
Their code run on this quadratic with the settings in SETTINGS and CASES gives the same arrivals and the same
final f - f* to 2e-15 relative or better (checked when the stored values were computed). The loss is f(X) - f* = 1/2 <X - X*, A (X - X*)>, with
A = tridiag(-1, 2, -1)/4 + mu I and B = e1 (first row ones), as the project's quadratic (docs/method.md §6).

Usage (Debian's /usr/bin/python3 with python3-numpy):
  authors_ringmaster.py --write FILE   computes every case and writes FILE (JSON: the settings as
                                       `ringmaster simulate --set` overrides, and per case its reference values)
  authors_ringmaster.py --check FILE   computes every case again and compares with FILE: exit 1 when a final
                                       loss differs by more than 1e-12 relative or any decision differs
tests/test_authors_reference.cpp runs the simulator on FILE's settings and compares with its values.
"""
import argparse
import heapq
import json
import math
import os
import stat
import sys

import numpy as np

# What the cases share, as `ringmaster simulate -c configs/quadratic.toml --set KEY=VALUE` overrides. Keys
# whose defaults the re-implementation assumes are set too, so the check does not rest on the base file.
SETTINGS = {
    "run.method": "ringmaster",
    "run.workers": 8,
    "run.max_updates": 300,
    "run.time_budget_s": 1e9,
    "run.eval_every_s": 1e9,
    "objective.kind": "quadratic",
    "objective.rows": 16,
    "objective.cols": 24,
    "objective.blocks": 1,
    "objective.mu": 0.01,
    "objective.rhs": "e1",
    "objective.rhs_scale": 1.0,
    "objective.x0": "zero",
    "objective.noise": 0.0,
    "method.stepsize": 0.05,
    "method.momentum": 0.95,
    "method.nesterov": True,
    "method.stale": "interrupt",
    "lmo.geometry": "spectral",
    "lmo.backend": "newton-schulz",
    "lmo.ns_steps": 5,
    "lmo.ns_coefficients": "polar-express",
    "lmo.scale": "muon",
    "heterogeneity.base_s": 1.0,
    "heterogeneity.offset_s": 0.0,
    "heterogeneity.profile_origin": 1,
    "heterogeneity.noise": "none",
    "heterogeneity.compute_s": 0.0,
    "heterogeneity.server_update_s": 0.0,
    "heterogeneity.outage_rate": 0.0,
}
CASES = [{"method.threshold": r, "heterogeneity.profile": p} for r in (1, 2, 4) for p in ("sqrt", "linear")]

# (a, b, c) of each Newton-Schulz step: the polar-express coefficients (docs/method.md §3).
POLAR_EXPRESS = (
    (8.156554524902461, -22.48329292557795, 15.878769915207462),
    (4.042929935166739, -2.808917465908714, 0.5000178451051316),
    (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
    (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
    (2.3465413258596377, -1.7097828382687081, 0.42323551169305323),
)

LOSS_TOLERANCE = 1e-12      # --check: relative, the script against its own stored values
MAX_REFERENCE_BYTES = 1 << 20


def polar_factor(u: np.ndarray) -> np.ndarray:
    """Five quintic Newton-Schulz steps X <- aX + (bG + cG^2)X, G = X X^T, on the wide orientation."""
    tall = u.shape[0] > u.shape[1]
    x = u.T if tall else u
    x = x / (np.linalg.norm(x) + 1e-7)
    for a, b, c in POLAR_EXPRESS:
        gram = x @ x.T
        x = a * x + (b * gram + c * (gram @ gram)) @ x
    return x.T if tall else x


def check_supported(settings: dict) -> None:
    """Refuses settings this re-implementation does not model (it models exactly SETTINGS' kind of run)."""
    fixed = {key: value for key, value in SETTINGS.items()
             if key not in ("run.workers", "run.max_updates", "objective.rows", "objective.cols", "objective.mu",
                            "method.stepsize", "method.momentum", "heterogeneity.base_s")}
    for key, value in fixed.items():
        if settings.get(key) != value:
            raise SystemExit(f"authors_ringmaster.py: {key} = {settings.get(key)!r} is not modelled (only {value!r})")
    if settings["heterogeneity.profile"] not in ("sqrt", "linear"):
        raise SystemExit("authors_ringmaster.py: heterogeneity.profile must be sqrt or linear")


def simulate(settings: dict) -> dict:
    """One run of the authors' simulator; returns its final f - f*, time and decisions."""
    check_supported(settings)
    rows, cols, mu = settings["objective.rows"], settings["objective.cols"], settings["objective.mu"]
    gamma, beta = settings["method.stepsize"], settings["method.momentum"]
    threshold, n = settings["method.threshold"], settings["run.workers"]
    profile = math.sqrt if settings["heterogeneity.profile"] == "sqrt" else float
    tau = [settings["heterogeneity.base_s"] * profile(i) for i in range(1, n + 1)]  # tau[w - 1]

    a = (0.5 + mu) * np.eye(rows) - 0.25 * np.eye(rows, k=1) - 0.25 * np.eye(rows, k=-1)
    b = np.zeros((rows, cols))
    b[0, :] = 1.0
    x_star = np.linalg.solve(a, b)
    scale = math.sqrt(max(1.0, rows / cols))

    x = np.zeros((rows, cols))
    m = np.zeros((rows, cols))
    k = 0
    point = [x] * n            # the x each worker was handed (arrays are never modified in place)
    version = [0] * n          # the k it was handed at
    handed = [0] * n           # how many points it has been handed: older queue entries are abandoned
    events = [(tau[w], w, 0) for w in range(n)]  # (completion time, worker index, handed count)
    heapq.heapify(events)
    workers, delays, interrupted, now = [], [], 0, 0.0

    def hand(w: int, t: float) -> None:
        point[w], version[w] = x, k
        handed[w] += 1
        heapq.heappush(events, (t + tau[w], w, handed[w]))

    while k < settings["run.max_updates"]:
        now, w, count = heapq.heappop(events)
        if count != handed[w]:
            continue  # a computation its worker abandoned
        g = a @ point[w] - b
        workers.append(w + 1)
        delays.append(k - version[w])
        m = beta * m + (1.0 - beta) * g
        u = beta * m + (1.0 - beta) * g
        x = x - gamma * scale * polar_factor(u)
        k += 1
        hand(w, now)
        for j in range(n):
            if j != w and k - version[j] >= threshold:
                interrupted += 1
                hand(j, now)

    e = x - x_star
    return {"final_loss": 0.5 * float(np.sum(e * (a @ e))), "train_time_s": now, "interrupted": interrupted,
            "workers": workers, "delays": delays}


def compute() -> dict:
    cases = []
    for case in CASES:
        result = simulate({**SETTINGS, **case})
        cases.append({"set": case, **result})
    return {"about": "final f - f* and decisions of the authors' simulator (tests/reference/authors_ringmaster.py, "
                     "which wrote this file); `ringmaster simulate -c configs/quadratic.toml` with `set` and each "
                     "case's `set` as --set overrides runs the same settings",
            "config": "configs/quadratic.toml", "set": SETTINGS, "cases": cases}


def read_reference(path: str) -> dict:
    """The stored file: a regular file, opened without blocking, at most MAX_REFERENCE_BYTES."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise SystemExit(f"authors_ringmaster.py: {path}: {e.strerror}")
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SystemExit(f"authors_ringmaster.py: {path}: not a regular file")
        data = f.read(MAX_REFERENCE_BYTES + 1)
    if len(data) > MAX_REFERENCE_BYTES:
        raise SystemExit(f"authors_ringmaster.py: {path}: larger than {MAX_REFERENCE_BYTES} bytes")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SystemExit(f"authors_ringmaster.py: {path}: not JSON ({e})")


def check(path: str) -> int:
    stored, fresh = read_reference(path), compute()
    if stored.get("set") != fresh["set"] or [c.get("set") for c in stored.get("cases", [])] != CASES:
        print(f"{path}: its settings are not this script's", file=sys.stderr)
        return 1
    failed = 0
    for old, new in zip(stored["cases"], fresh["cases"]):
        relative = abs(new["final_loss"] - old["final_loss"]) / abs(old["final_loss"])
        same = all(old[key] == new[key] for key in ("train_time_s", "interrupted", "workers", "delays"))
        ok = relative <= LOSS_TOLERANCE and same
        failed += not ok
        print(f"R={new['set']['method.threshold']} {new['set']['heterogeneity.profile']:6s} "
              f"f-f* {new['final_loss']:.15g} stored {old['final_loss']:.15g} (relative {relative:.1e}), "
              f"decisions {'same' if same else 'DIFFERENT'}: {'ok' if ok else 'FAIL'}")
    return 1 if failed else 0


def write(path: str) -> None:
    """FILE with one line per case, written whole or not at all (a partial file renamed into place)."""
    reference = compute()
    fields = [f" {json.dumps(key)}: {json.dumps(value)}" for key, value in reference.items() if key != "cases"]
    cases = ",\n".join(f"  {json.dumps(case)}" for case in reference["cases"])
    text = "{\n" + ",\n".join(fields) + ',\n "cases": [\n' + cases + "\n ]\n}\n"
    partial = path + ".partial"
    with open(partial, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", metavar="FILE", help="compute every case and write FILE")
    action.add_argument("--check", metavar="FILE", help="compute every case and compare with FILE")
    args = parser.parse_args()
    if args.write:
        write(args.write)
        return 0
    return check(args.check)


if __name__ == "__main__":
    sys.exit(main())
