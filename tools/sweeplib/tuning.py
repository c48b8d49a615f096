"""Tuning: the choice of each method's hyperparameters from the finished tuning runs (tuned.json).

The protocol (docs/sweeps.md "Tuning"): for each method (and each value of the tune.per axes), every
grid point runs on the tuning seeds (three by default). A grid point's statistic is the mean over its
tuning runs of log10(final_loss / initial_loss) -- reported as the geometric mean `score` with its spread
(sample standard deviation over the runs, as a factor ×/÷). A run that
diverged scores +inf, and so does a run that failed (ended with an error and no summary, as a diverged run
may). A run that never ran is an error.

Noise: a constant-stepsize run ends in a noise floor, so the last bits of the arithmetic (BLAS kernels,
vector math: a different CPU) move its final loss by a few percent, as a different seed does. Candidates
whose mean is within `tune.tie` standard errors of the difference from the lowest one's are reported as
ties: which of them has the lowest mean may differ on another machine. The choice is the first of the
tied candidates in grid order (grids ascending: the smallest stepsize), so it moves only when a candidate
crosses the edge of the tie, not when two tied ones swap places; the check (`sweep.py check`) accepts a
choice that moved within a reported tie.

`tune.protocol = "time-to-target"` (with `tune.target`) chooses instead the grid point that reaches the
target soonest on the training clock (choose_by_time): a grid point that reached it in every tuning run
ranks before any that missed it in some run; among those, the lowest mean time wins, with ties within
`tune.tie` standard errors of the difference plus one evaluation interval (times are sampled on that
grid), the first tie in grid order chosen. If none reached it in every run: the most runs that reached it,
then the lowest mean with misses counted at the full training time (a lower bound), ties alike among
those with as many runs that reached it; tuned.json then says that the choice did not reach the target in
every run. A diverged or failed run never reached it. A loss target's times are read from the tuning runs'
eval.csv (rundir.time_to)."""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import FileError, read_json, write_text
from .spec import PROTOCOL_AXIS, Spec, SpecError, is_loss, overrides_interval, target_phrase
from .points import Point, compare_points, needs_tuning, point_dir, tune_points
from .rundir import failed_exit_code, is_finished, read_summary, relative_final_loss, time_to

LOG_FLOOR = -30.0  # log10 of a final loss of exactly 0 (f reached f* in float): better than anything


@dataclass
class Score:
    """One grid point's statistic over its tuning runs, in log10 of the relative final loss."""

    mean: float  # mean of log10(final / initial); +inf if any run diverged or failed
    std: float  # sample standard deviation over the runs (0 for one run)
    n: int

    @property
    def stderr(self) -> float:
        return self.std / math.sqrt(self.n) if self.n > 0 and math.isfinite(self.std) else math.inf

    @property
    def geomean(self) -> float:
        return 10.0 ** self.mean if math.isfinite(self.mean) else math.inf

    @property
    def spread(self) -> float:
        """The spread over runs as a factor: the geometric mean ×/÷ this is ± one standard deviation."""
        return 10.0 ** self.std if math.isfinite(self.std) else math.inf


def score_of(relative_losses: list[float]) -> Score:
    logs = []
    for v in relative_losses:
        if not math.isfinite(v):
            return Score(math.inf, math.inf, len(relative_losses))
        logs.append(math.log10(v) if v > 0 else LOG_FLOOR)
    if not logs:
        return Score(math.inf, math.inf, 0)
    return Score(statistics.fmean(logs), statistics.stdev(logs) if len(logs) > 1 else 0.0, len(logs))


def tuning_score(relative_losses: list[float]) -> float:
    """Geometric mean of the final relative losses of one hyperparameter combination (one per tuning
    seed and non-tuned axis value); equal to ordering by final_loss when there is one run."""
    return score_of(relative_losses).geomean


def linear_score(values: list[float]) -> Score:
    """Mean and sample standard deviation of plain values (times to a target); mean +inf if one is."""
    if not values or not all(math.isfinite(v) for v in values):
        return Score(math.inf, math.inf, len(values))
    return Score(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0, len(values))


def within_noise(best: Score, other: Score, tie: float, slack: float = 0.0) -> bool:
    """Whether `other` is within noise of `best`: its mean exceeds best's by at most `tie` standard errors
    of the difference, sqrt(se_best² + se_other²), plus `slack` (the resolution of the values: for times,
    one evaluation interval). With one run each there is no spread: only means within `slack` tie."""
    if not math.isfinite(best.mean) or not math.isfinite(other.mean):
        return False
    return other.mean - best.mean <= tie * math.hypot(best.stderr, other.stderr) + slack


def choose(points: list[Point], summaries: dict[int, dict[str, Any] | None],
           failed: dict[int, int] | None = None, tie: float = 2.0, target: str | None = None,
           resolution: float = 0.0, resolutions: dict[str, float] | None = None) -> dict[str, Any]:
    """For each tuning group, the candidates within noise of the lowest mean log final loss (see
    within_noise), and the choice: the first of them in grid order; `ties` lists the others, `lowest`
    the one with the lowest mean. With a `target`, the time-to-target protocol instead (choose_by_time;
    resolution: the tuning runs' evaluation interval; resolutions: per tuning group, where the grid sets it
    per cell). summaries:
    point index → summary.json (None: no summary); failed: point index → exit code of a run that ended
    without a summary (scored +inf). Raises SpecError naming the points that have neither (not run yet,
    or still running)."""
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
        if target is not None:
            summary = summaries.get(p.index) if p.index not in failed else None
            # a diverged run (no finite final loss) never reached the target, whatever it passed on the way
            reached = summary is not None and math.isfinite(c["relative_final_loss"][-1])
            c.setdefault("times", []).append(time_to(summary, target) if reached else math.inf)
            if summary is not None and not reached:
                c.setdefault("diverged", []).append(p.name)
            train_time = summary.get("train_time_s") if summary is not None else None
            if isinstance(train_time, (int, float)) and math.isfinite(train_time):
                g["training_time"] = max(g.get("training_time", 0.0), float(train_time))
    if target is not None:
        return {group: choose_by_time(group, g, tie, (resolutions or {}).get(group, resolution))
                for group, g in groups.items()}
    result = {}
    for group, g in groups.items():
        scored = [(score_of(c["relative_final_loss"]), c) for c in g["candidates"].values()]
        best_score, best = scored[0]
        for s, c in scored[1:]:
            if s.mean < best_score.mean:
                best_score, best = s, c
        # the tie group: the lowest mean and every candidate within noise of it, in grid order; the
        # choice is its first member, so it moves only when the group does, not when two of its members
        # swap places (which the last bits of another CPU can do)
        group_members = [c for s, c in scored if c is best or within_noise(best_score, s, tie)]
        chosen = group_members[0]
        chosen_score = next(s for s, c in scored if c is chosen)
        candidates = []
        for s, c in scored:
            candidates.append({"params": c["params"], "score": s.geomean, "spread": s.spread,
                               "log10_mean": s.mean, "log10_std": s.std, "tie": c in group_members,
                               "runs": c["runs"], "relative_final_loss": c["relative_final_loss"],
                               "failed": c["failed"]})
        result[group] = {"group": json.loads(group), "chosen": chosen["params"], "score": chosen_score.geomean,
                         "spread": chosen_score.spread, "runs": chosen_score.n,
                         "range": [min(chosen["relative_final_loss"]), max(chosen["relative_final_loss"])],
                         "lowest": best["params"], "ties": [c["params"] for c in group_members if c is not chosen],
                         "candidates": candidates}
    return result


def choose_by_time(group: str, g: dict[str, Any], tie: float, resolution: float) -> dict[str, Any]:
    """One tuning group under the time-to-target protocol (module docstring). A run's time is +inf when it
    never reached the target (or diverged, or failed); such a miss counts at the group's full training
    time (the longest train_time_s of its runs) in the mean of a candidate that missed in some run."""
    cap = g.get("training_time", math.inf)
    scored = []  # (runs that reached the target, Score of the times with misses at `cap`, candidate)
    for c in g["candidates"].values():
        reached = sum(math.isfinite(t) for t in c["times"])
        scored.append((reached, linear_score([t if math.isfinite(t) else cap for t in c["times"]]), c))
    # more runs that reached it first, then the lowest mean; min keeps the first in grid order on equal keys
    best_reached, best_score, best = min(scored, key=lambda e: (-e[0], e[1].mean))
    members = [c for r, s, c in scored
               if c is best or (r == best_reached and within_noise(best_score, s, tie, resolution))]
    chosen = members[0]
    chosen_reached, chosen_score, _ = next(e for e in scored if e[2] is chosen)
    candidates = []
    for r, s, c in scored:
        candidates.append({"params": c["params"], "time_mean": s.mean, "time_std": s.std, "reached": r,
                           "tie": c in members, "runs": c["runs"],
                           "times": [t if math.isfinite(t) else None for t in c["times"]],
                           "diverged": c.get("diverged", []), "failed": c["failed"]})
    finite = [t for t in chosen["times"] if math.isfinite(t)]
    return {"group": json.loads(group), "chosen": chosen["params"], "time_mean": chosen_score.mean,
            "time_std": chosen_score.std, "eval_every_s": resolution, "reached": chosen_reached, "runs": chosen_score.n,
            "reached_every_run": chosen_reached == chosen_score.n, "training_time_s": cap,
            "range": [min(finite, default=math.inf), max(chosen["times"], default=math.inf)],
            "lowest": best["params"], "ties": [c["params"] for c in members if c is not chosen],
            "candidates": candidates}


def json_safe(value: Any) -> Any:
    """inf and nan are not JSON: write them as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


PROTOCOL = ("per method and tune.per value: every grid point on the tuning seeds; the lowest mean of "
            "log10(final_loss / initial_loss) wins (score: its geometric mean; spread: ×/÷ one sample std over "
            "the runs); candidates whose mean is within {tie:g} standard errors of the difference from the "
            "lowest mean are ties (within noise, the lowest included); the choice is the first tie in grid order")
TIME_PROTOCOL = ("per method and tune.per value: every grid point on the tuning seeds; the grid points that reached "
                 "{target} in every tuning run rank first, by their mean training-clock time to it; candidates "
                 "whose mean is within {tie:g} standard errors of the difference plus one evaluation interval "
                 "({resolution}) from the lowest are ties (the lowest included); the choice is the first tie "
                 "in grid order. If no grid point reached it in every run: the most runs that reached it, then "
                 "the lowest mean with misses at the full training time (a lower bound), ties alike among those "
                 "with as many runs that reached it; `reached_every_run` is then false. A diverged or failed run "
                 "never reached it")


def common_interval(groups: dict[str, dict[str, Any]]) -> float | None:
    """The evaluation interval every group's tuning runs share, or None where a grid axis set it per cell."""
    intervals = {g.get("eval_every_s") for g in groups.values()}
    return intervals.pop() if len(intervals) == 1 else None


def is_time_protocol(record: dict[str, Any]) -> bool:
    """Whether a tuned.json record (or, with several protocols, one of its groups) was chosen by the
    time-to-target protocol (it names its target)."""
    return record.get("target") is not None


def protocol_records(record: dict[str, Any]) -> list[dict[str, Any]]:
    """tuned.json as one record per tuning protocol: itself with one protocol; with several (its groups
    carry their protocol), a record per protocol with that protocol's groups and fields."""
    if "tune_protocols" not in record:
        return [record]
    out = []
    for protocol in record["tune_protocols"]:
        groups = {k: g for k, g in record["groups"].items() if g["tune_protocol"] == protocol}
        first = next(iter(groups.values()), {})
        out.append({**record, "groups": groups, "tune_protocol": protocol,
                    "protocol": record["protocols_text"][protocol],
                    **({"target": first.get("target"), "eval_every_s": common_interval(groups)}
                       if protocol == "time-to-target" else {})})
    return out


def write_tuned(spec: Spec, sweep_dir: Path) -> dict[str, Any]:
    """Chooses from the tuning runs in sweep_dir and writes tuned.json. Returns the choices."""
    points = tune_points(spec)
    summaries, failed = {}, {}
    eval_loss = spec.tune.target is not None and is_loss(spec.tune.target)
    for p in points:
        directory = point_dir(sweep_dir, p)
        summaries[p.index] = read_summary(directory, eval_loss) if is_finished(spec, p, directory) else None
        code = failed_exit_code(spec, p, directory)
        if code is not None:
            failed[p.index] = code
    # the resolution of a time: the tuning runs' evaluation interval, per group where a grid axis sets it
    resolutions = {p.group: overrides_interval(spec, p.overrides) for p in points}
    distinct = set(resolutions.values())
    resolution = distinct.pop() if len(distinct) == 1 else None  # one for every group, or per group
    texts = {"final-loss": PROTOCOL.format(tie=spec.tune.tie),
             "time-to-target": TIME_PROTOCOL.format(
                 target=target_phrase(spec.tune.target or "0.001"), tie=spec.tune.tie,
                 resolution=f"{resolution:g} s" if resolution is not None
                 else "of the group's tuning runs, `eval_every_s` in each group")}
    if spec.tune.several:
        # the same tuning runs, one choice per protocol; a comparison group names its protocol (tune.per)
        choices = {}
        for protocol in spec.tune.protocols:
            by_time = protocol == "time-to-target"
            chosen = choose(points, summaries, failed, spec.tune.tie, spec.tune.target if by_time else None,
                            resolutions=resolutions if by_time else None)
            for key, g in chosen.items():
                g["group"][PROTOCOL_AXIS] = protocol
                g["tune_protocol"] = protocol
                if by_time:
                    g["target"] = spec.tune.target  # and its eval_every_s, from choose_by_time
                choices[json.dumps(g["group"], sort_keys=True)] = g
        record: dict[str, Any] = {"sweep": spec.name, "protocol": " / ".join(texts[p] for p in spec.tune.protocols),
                                  "tune_protocols": spec.tune.protocols, "protocols_text": texts}
    else:
        time_protocol = spec.tune.protocol == "time-to-target"
        choices = choose(points, summaries, failed, spec.tune.tie, spec.tune.target,
                         resolutions=resolutions if time_protocol else None)
        record = {"sweep": spec.name, "protocol": texts["final-loss"]}
        if time_protocol:  # (a final-loss record stays as it was before there was a choice of protocol)
            record.update({"protocol": texts["time-to-target"], "tune_protocol": spec.tune.protocol,
                           "target": spec.tune.target, "eval_every_s": resolution})
    record.update({
        "tie": spec.tune.tie,
        "seeds": spec.tune.seeds,
        "per": spec.tune.per,
        "set": spec.tune.set,
        "failed_runs": [{"run": p.name, "exit_code": failed[p.index]} for p in points if p.index in failed],
        "groups": choices,
    })
    write_text(sweep_dir / "tuned.json", json.dumps(json_safe(record), indent=2) + "\n")
    return choices


def read_tuned_json(path: Path) -> dict[str, Any]:
    """A tuned.json (a sweep's, or a published <name>-tuned.json) with its groups, each with its choice;
    SpecError naming the file if it is missing or is not one."""
    try:
        record = read_json(path)
    except FileError as e:
        raise SpecError(f"{path}: missing; the tuning phase has not been chosen yet (run `sweep.py tune`, or "
                        "`sweep.py run` for everything)" if e.missing else str(e)) from None
    except ValueError as e:
        raise SpecError(f"{path}: not JSON: {e}") from None
    groups = record.get("groups") if isinstance(record, dict) else None
    if not isinstance(groups, dict) or not all(isinstance(g, dict) and isinstance(g.get("chosen"), dict)
                                               for g in groups.values()):
        raise SpecError(f"{path}: not a tuned.json (no groups, each with its chosen values)")
    return record


def read_tuned(sweep_dir: Path) -> dict[str, dict[str, Any]]:
    return {group: g["chosen"] for group, g in read_tuned_json(sweep_dir / "tuned.json")["groups"].items()}


def phase_points(spec: Spec, phase: str, sweep_dir: Path) -> list[Point]:
    if phase == "tune":
        return tune_points(spec)
    tuned = read_tuned(sweep_dir) if needs_tuning(spec) else None
    return compare_points(spec, tuned)
