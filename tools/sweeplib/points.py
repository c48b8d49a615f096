"""Points: the runs a spec asks for, one run directory each.

A phase's points are a Cartesian product in spec order (first axis slowest), so a point's index is
stable: it is the Slurm array task id. Tuning points cover each method's hyperparameter grid on the
tuning seeds; comparison points cover the grid with each method's tuned values."""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .names import point_name, short_names
from .spec import PROTOCOL_AXIS, Axis, Spec, SpecError


@dataclass
class Point:
    phase: str  # "tune" or "compare"
    index: int  # position in the phase: the Slurm array task id
    name: str  # run directory name inside <sweep>/<tune|runs>/
    overrides: list[tuple[str, Any]]  # --set key=value, in order (later ones win)
    labels: dict[str, Any]  # the grid values that identify it (key → value)
    group: str  # tuning group: method and the tune.per values, canonical JSON
    params: dict[str, Any] = field(default_factory=dict)  # tuned hyperparameters (key → value)

    @property
    def method(self) -> Any:
        return self.labels.get("__method__")


def product(axes: list[Axis]) -> list[list[tuple[Axis, dict[str, Any]]]]:
    """The Cartesian product of the axes' values, first axis slowest (the order of the spec)."""
    return [list(zip(axes, combo)) for combo in itertools.product(*[a.values for a in axes])]


def format_value(value: Any) -> str:
    """A TOML value, as `ringmaster --set key=value` reads it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for printable text
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    raise SpecError(f"cannot pass {value!r} as a configuration value")


def group_key(method: Any, per_values: dict[str, Any]) -> str:
    return json.dumps({"method": method, **dict(sorted(per_values.items()))}, sort_keys=True)


def all_name_keys(spec: Spec) -> list[str]:
    keys = [k for a in spec.axes for k in a.keys]
    if spec.tune:
        for axes in spec.tune.grids.values():
            keys += [k for a in axes for k in a.keys if k not in keys]
    if spec.seed_axis is None and "run.seed" not in keys:
        keys.append("run.seed")
    return keys


def tune_points(spec: Spec) -> list[Point]:
    """Every hyperparameter combination of every method, for each value of the tune.per axes (and of
    every other non-seed axis), on each tuning seed."""
    if spec.tune is None:
        return []
    t = spec.tune
    short = short_names(all_name_keys(spec))
    seed_key = spec.axis(spec.seed_axis).keys[0] if spec.seed_axis else "run.seed"
    seeds = t.seeds
    # every tuning protocol chooses from the same tuning runs (tuning.py): the protocol axis is not run
    outer = [a for a in spec.axes if a.name not in (spec.seed_axis, PROTOCOL_AXIS)]
    points: list[Point] = []
    for combo in product(outer):
        labels = {k: v for _, value in combo for k, v in value.items()}
        method = labels[spec.method_axis]
        hp_axes = t.grids.get(method, [])
        if not hp_axes:
            continue  # nothing to tune: the comparison runs use the base values
        per_values = {k: v for axis, value in combo if axis.name in t.per for k, v in value.items()}
        for hp in product(hp_axes):
            params = {k: v for _, value in hp for k, v in value.items()}
            for seed in seeds:
                items = list(labels.items()) + list(params.items())
                if seed is not None:
                    items.append((seed_key, seed))
                overrides = list(spec.set.items()) + items + list(t.set.items())
                points.append(Point("tune", len(points), point_name(items, short), overrides,
                                    {**labels, **({seed_key: seed} if seed is not None else {}),
                                     "__method__": method},
                                    group_key(method, per_values), params))
    return points


def compare_points(spec: Spec, tuned: dict[str, dict[str, Any]] | None = None) -> list[Point]:
    """The grid's Cartesian product, each with its method's tuned hyperparameters (when tuned is
    given; without it the overrides are incomplete and only the names, labels and count are valid)."""
    short = short_names(all_name_keys(spec))
    points: list[Point] = []
    for combo in product(spec.axes):
        labels = {k: v for _, value in combo for k, v in value.items()}
        method = labels.get(spec.method_axis)
        per = spec.tune.per if spec.tune else []
        per_values = {k: v for axis, value in combo if axis.name in per for k, v in value.items()}
        group = group_key(method, per_values)
        params = {}
        if spec.tune and tuned is not None and method in spec.tune.grids:
            if group not in tuned:
                raise SpecError(f"no tuned values for {group} in tuned.json (run `sweep.py tune` first)")
            params = tuned[group]
        items = list(labels.items())
        # the tuning protocol is a label of the run, not a configuration key
        overrides = list(spec.set.items()) + [i for i in items if i[0] != PROTOCOL_AXIS] + list(params.items())
        points.append(Point("compare", len(points), point_name(items, short), overrides,
                            {**labels, "__method__": method}, group, dict(params)))
    return points


def needs_tuning(spec: Spec) -> bool:
    return spec.tune is not None and bool(tune_points(spec))


def point_dir(sweep_dir: Path, point: Point) -> Path:
    return sweep_dir / ("tune" if point.phase == "tune" else "runs") / point.name
