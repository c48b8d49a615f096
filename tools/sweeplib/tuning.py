"""Tuning: the choice of each method's hyperparameters from the finished tuning runs (tuned.json).

The published protocol: for each method (and each value of the tune.per axes), every grid point runs on
the tuning seeds; the one with the lowest final loss wins. With several tuning runs per grid point the
score is the geometric mean of final_loss / initial_loss (the same order as final_loss for one run);
a run that diverged scores +inf, and so does a run that failed (ended with an error and no summary, as a
diverged run may); ties go to the first grid point. A run that never ran is an error."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .spec import Spec, SpecError
from .points import Point, compare_points, needs_tuning, point_dir, tune_points
from .rundir import failed_exit_code, is_finished, read_summary, relative_final_loss


def tuning_score(relative_losses: list[float]) -> float:
    """Geometric mean of the final relative losses of one hyperparameter combination (one per tuning
    seed and non-tuned axis value); equal to ordering by final_loss when there is one run."""
    if not relative_losses or any(not math.isfinite(v) for v in relative_losses):
        return math.inf
    if any(v <= 0 for v in relative_losses):
        return 0.0
    return math.exp(sum(math.log(v) for v in relative_losses) / len(relative_losses))


def choose(points: list[Point], summaries: dict[int, dict[str, Any] | None],
           failed: dict[int, int] | None = None) -> dict[str, Any]:
    """For each tuning group, the hyperparameters with the lowest score; ties go to the first in grid
    order. summaries: point index → summary.json (None: no summary); failed: point index → exit code of
    a run that ended without a summary (scored +inf). Raises SpecError naming the points that have
    neither (not run yet, or still running)."""
    failed = failed or {}
    missing = [p.name for p in points if summaries.get(p.index) is None and p.index not in failed]
    if missing:
        raise SpecError(f"{len(missing)} tuning runs have not finished (not run, or still running): "
                        + ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""))
    groups: dict[str, dict[str, Any]] = {}
    for p in points:
        g = groups.setdefault(p.group, {"candidates": {}})
        key = json.dumps(p.params, sort_keys=True)
        c = g["candidates"].setdefault(key, {"params": p.params, "runs": [], "relative_final_loss": [],
                                             "failed": []})
        c["runs"].append(p.name)
        if p.index in failed:
            c["failed"].append({"run": p.name, "exit_code": failed[p.index]})
            c["relative_final_loss"].append(math.inf)
        else:
            c["relative_final_loss"].append(relative_final_loss(summaries[p.index]))
    result = {}
    for group, g in groups.items():
        best = None
        candidates = []
        for c in g["candidates"].values():
            score = tuning_score(c["relative_final_loss"])
            candidates.append({"params": c["params"], "score": score, "runs": c["runs"],
                               "relative_final_loss": c["relative_final_loss"], "failed": c["failed"]})
            if best is None or score < best["score"]:
                best = candidates[-1]
        result[group] = {"group": json.loads(group), "chosen": best["params"], "score": best["score"],
                         "candidates": candidates}
    return result


def json_safe(value: Any) -> Any:
    """inf and nan are not JSON: write them as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def write_tuned(spec: Spec, sweep_dir: Path) -> dict[str, Any]:
    """Chooses from the tuning runs in sweep_dir and writes tuned.json. Returns the choices."""
    points = tune_points(spec)
    summaries, failed = {}, {}
    for p in points:
        directory = point_dir(sweep_dir, p)
        summaries[p.index] = read_summary(directory) if is_finished(spec, p, directory) else None
        code = failed_exit_code(spec, p, directory)
        if code is not None:
            failed[p.index] = code
    choices = choose(points, summaries, failed)
    record = {
        "sweep": spec.name,
        "protocol": "per method and tune.per value: every grid point on the tuning seeds; lowest geometric "
                    "mean of final_loss / initial_loss wins (ties: first in grid order)",
        "seeds": spec.tune.seeds,
        "per": spec.tune.per,
        "set": spec.tune.set,
        "failed_runs": [{"run": p.name, "exit_code": failed[p.index]} for p in points if p.index in failed],
        "groups": choices,
    }
    text = json.dumps(json_safe(record), indent=2) + "\n"
    tmp = sweep_dir / "tuned.json.tmp"
    tmp.write_text(text)
    tmp.replace(sweep_dir / "tuned.json")
    return choices


def read_tuned(sweep_dir: Path) -> dict[str, dict[str, Any]]:
    try:
        record = json.loads((sweep_dir / "tuned.json").read_text())
    except FileNotFoundError:
        raise SpecError(f"{sweep_dir / 'tuned.json'}: missing; the tuning phase has not been chosen yet "
                        "(run `sweep.py tune`, or `sweep.py run` for everything)") from None
    return {group: g["chosen"] for group, g in record["groups"].items()}


def phase_points(spec: Spec, phase: str, sweep_dir: Path) -> list[Point]:
    if phase == "tune":
        return tune_points(spec)
    tuned = read_tuned(sweep_dir) if needs_tuning(spec) else None
    return compare_points(spec, tuned)
