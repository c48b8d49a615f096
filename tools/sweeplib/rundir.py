"""What a point's run directory holds (docs/method.md §8, plus point.json and status.json) and whether the point
is finished.

A point is finished when summary.json exists (the binary writes it last, atomically), its stop_reason is
not "signal" (a run stopped by a signal writes a summary too), and point.json —
written before the run starts: engine, base config and its hash, the exact overrides — matches what
the spec asks for now. It failed when the run ended (status.json, written when the process exits, holds
its exit code) without a summary. Anything else — still running, killed, made by an older spec — is
simply not finished. Unfinished and failed points run again when the sweep is re-run."""
from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from .files import SPEC_LIMIT, FileError, read_csv, read_json, read_regular
from .spec import Spec, SpecError, split_target
from .points import Point


def config_sha256(spec: Spec) -> str:
    """The base configuration's SHA-256, as it is now (it may change between the runs of one sweep)."""
    try:
        return hashlib.sha256(read_regular(spec.config, SPEC_LIMIT)).hexdigest()
    except FileError as e:
        raise SpecError(f"{spec.path}: sweep.config: {e}") from None


def read_record(path: Path) -> Any:
    """A JSON file of a run directory, or None if it cannot be read (missing, refused by the reader policy,
    not JSON): the run has not finished, whatever is there."""
    try:
        return read_json(path)
    except (FileError, ValueError):
        return None


def point_record(spec: Spec, point: Point) -> dict[str, Any]:
    """What point.json holds: everything that decides what the run computes."""
    return {
        "phase": point.phase,
        "name": point.name,
        "engine": spec.engine,
        "config": str(spec.config),
        "config_sha256": config_sha256(spec),
        "overrides": [[k, v] for k, v in point.overrides],
    }


def matches(spec: Spec, point: Point, directory: Path) -> bool:
    """Whether the directory holds (or held) a run of exactly this point."""
    record = read_record(directory / "point.json")
    return record is not None and record == json.loads(json.dumps(point_record(spec, point)))


def is_finished(spec: Spec, point: Point, directory: Path) -> bool:
    """summary.json written and point.json matching, and the run ended by its own stop rule: a run stopped
    by a signal (the sweep interrupted, a Slurm task preempted) writes its summary too, with stop_reason
    "signal", but reached neither its time budget nor any other end of the point."""
    summary = read_summary(directory)
    return summary is not None and summary.get("stop_reason") != "signal" and matches(spec, point, directory)


def failed_exit_code(spec: Spec, point: Point, directory: Path) -> int | None:
    """The exit code of a run of this point that ended without a summary.json; None otherwise."""
    if is_finished(spec, point, directory) or not matches(spec, point, directory):
        return None
    status = read_record(directory / "status.json")
    code = status.get("exit_code") if isinstance(status, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) and code != 0 else None


# Not a summary.json key: read_summary(..., eval_loss=True) attaches eval.csv's (time_s, loss) rows under it,
# for the times to loss targets (time_to). Only when a spec names a loss target: a large sweep's eval.csv
# files are many.
EVAL_LOSS = "eval.csv loss"


def read_summary(directory: Path, eval_loss: bool = False) -> dict[str, Any] | None:
    """summary.json; with eval_loss, plus eval.csv's (time_s, loss) rows under EVAL_LOSS (none without an
    eval.csv)."""
    summary = read_record(directory / "summary.json")
    if not isinstance(summary, dict):
        return None
    if eval_loss:
        summary[EVAL_LOSS] = list(zip(*read_eval(directory)))
    return summary


def relative_final_loss(summary: dict[str, Any]) -> float:
    """final_loss / initial_loss; +inf for a run that diverged or produced no number."""
    final, initial = summary.get("final_loss"), summary.get("initial_loss")
    if not isinstance(final, (int, float)) or not isinstance(initial, (int, float)):
        return math.inf
    if not math.isfinite(final) or not math.isfinite(initial) or initial <= 0:
        return math.inf
    return max(final, 0.0) / initial


def time_to(summary: dict[str, Any], target: str) -> float:
    """Training-clock seconds until the run reached `target` (a canonical target: relative loss from
    summary.json `time_to_relative_target`, test accuracy from `time_to_accuracy`, a loss target from the
    eval.csv rows read_summary attached: the first whose loss is finite and at most the value); +inf if it
    never did or the summary does not say."""
    field, key = split_target(target)
    if field == "loss":
        value = float(key)
        return next((t for t, loss in summary.get(EVAL_LOSS, []) if math.isfinite(loss) and loss <= value),
                    math.inf)
    times = summary.get(field)
    t = times.get(key) if isinstance(times, dict) else None
    return float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else math.inf


def has_accuracy(summary: dict[str, Any]) -> bool:
    """Whether a run reports test accuracy (a learning objective: `time_to_accuracy` in summary.json)."""
    return isinstance(summary.get("time_to_accuracy"), dict)


def read_eval(directory: Path, column: str = "loss") -> tuple[list[float], list[float]]:
    """(time_s, column) of eval.csv's rows; empty lists when the file has no such column (e.g. accuracy
    of a quadratic run), a row leaves it empty or is not numbers, or there is no eval.csv to read."""
    times, values = [], []
    try:
        for row in read_csv(directory / "eval.csv"):
            if row.get(column) in (None, ""):
                return [], []
            times.append(float(row["time_s"]))
            values.append(float(row[column]))
    except (FileError, ValueError, TypeError, csv.Error):
        return [], []
    return times, values
