"""The sweep spec (TOML): base config, overrides, grid axes, per-method tuning grids, report layout.

A spec is validated here, before any run starts; every problem is one SpecError naming the file and
the key. Whether a key exists in the run configuration is left to the ringmaster binary, which rejects
unknown keys with exit code 2 (the sweep then stops at its first run)."""
from __future__ import annotations

import json
import math
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import SPEC_LIMIT, FileError, read_regular
from .names import items_name, value_name

REPO = Path(__file__).resolve().parent.parent.parent  # the repository: tools/sweeplib/ is two levels down
PHASES = ("tune", "compare")
EXIT_BAD_INPUT = 2  # as the ringmaster binary (docs/method.md §10)
# Tuning seeds when the spec names none: three, none of them a usual comparison seed (0, 1, 2, ...), so
# the choice is made over the noise of several runs and never on the runs it is then compared on.
DEFAULT_TUNE_SEEDS = [100, 101, 102]
# The relative targets summary.json reports, (f − f*) / (f(X0) − f*), as its keys spell them.
TARGETS = ("0.1", "0.01", "0.001", "0.0001", "1e-06")
# The test-accuracy thresholds of a learning objective's summary.json `time_to_accuracy` ({:g} keys). In
# a spec such a target is written "accuracy:0.88"; a relative target is written as its key ("0.001").
ACCURACY_TARGETS = ("0.8", "0.85", "0.88", "0.9")
ACCURACY_PREFIX = "accuracy:"
ACCURACY = tuple(ACCURACY_PREFIX + a for a in ACCURACY_TARGETS)
# A loss target, "loss:2.2": the evaluated loss (eval.csv `loss`) at or below that value, for an objective
# whose f* is unknown (a language model's validation cross-entropy), so that a relative target means nothing.
# Any finite value > 0; the time is read from eval.csv (rundir.time_to), not from summary.json.
LOSS_PREFIX = "loss:"
TUNE_PROTOCOLS = ("final-loss", "time-to-target")
# With several tuning protocols (`tune.protocol = ["final-loss", "time-to-target"]`) every comparison point
# runs once per protocol with that protocol's choice: the protocol is then a grid axis of this name, a label
# of the comparison runs (never passed to the binary), tuned separately (tune.per) from the same tuning runs.
PROTOCOL_AXIS = "tune.protocol"
# The most runs a phase may have (tuning runs, or comparison runs), counted from the lengths of the axes before
# any grid is expanded: the largest published sweep (regime) has 4,288 tuning runs; a million-point grid takes
# a minute and gigabytes just to list, and years to run.
MAX_POINTS = 100_000
NAME_BYTES = 128  # sweep.name: a file name, with room for the report's suffixes (`-accuracy-vs-time.png`)


class SpecError(Exception):
    """A problem with the sweep spec or the command line: one line for the user, exit code 2."""


@dataclass
class Axis:
    """One grid axis. A plain axis sets one key (`"heterogeneity.power" = [0, 0.5]`); a linked axis
    sets several keys together, one table per value (`budget = [{"heterogeneity.power" = 0,
    "run.time_budget_s" = 30}, ...]`): its values move in lockstep instead of forming a product."""

    name: str
    values: list[dict[str, Any]]  # each value: the overrides it applies, key → TOML value

    @property
    def keys(self) -> list[str]:
        keys: list[str] = []
        for v in self.values:
            keys += [k for k in v if k not in keys]
        return keys


@dataclass
class Tune:
    grids: dict[str, list[Axis]]  # method → its hyperparameter axes
    seeds: list[Any]  # seeds of the tuning runs (default DEFAULT_TUNE_SEEDS)
    per: list[str]  # grid axes tuned separately (the method axis always is)
    set: dict[str, Any]  # extra overrides for tuning runs only (e.g. a shorter run.time_budget_s)
    tie: float = 2.0  # candidates within this many standard errors of the winner are ties (tuning.py)
    protocol: str = "final-loss"  # what the choice optimizes: "final-loss" or "time-to-target" (tuning.py)
    target: str | None = None  # the target of the time-to-target protocol (a canonical target)
    protocols: list[str] = field(default_factory=list)  # every protocol, when several (PROTOCOL_AXIS)

    @property
    def several(self) -> bool:
        return len(self.protocols) > 1


@dataclass
class Report:
    rows: str  # key whose values are the table's rows (the method)
    columns: str | None  # key whose values are the table's columns (e.g. heterogeneity.power)
    reference: str | None  # the method whose speedup over the others is reported
    baselines: list[str] | None  # methods compared with the reference (None: every other method)
    target: str  # the target of the headline table and the speedups (canonical_target)
    tie: float = 2.0  # methods within this many standard errors of the fastest are ties (report.py)
    # Keys that split the report into tables besides the axes that are neither rows, columns nor seed:
    # keys of a linked axis that also holds the column key (e.g. run.workers linked with the power p).
    split: list[str] = field(default_factory=list)
    # The heat map (plots.py): {"x": key, "y": key}: the reference's speedup over the best baseline at the
    # report target, one panel per value of the other splitting keys.
    heatmap: dict[str, str] | None = None
    # The loss-vs-time plots only for the cells with these labels (e.g. {"run.workers": 6174}), one figure
    # per value of the other splitting keys; empty: one figure over every cell, as without splitting keys.
    curves: dict[str, Any] = field(default_factory=dict)


@dataclass
class Check:
    """Tolerances of `sweep.py check` (check.py): how far a regeneration may differ from the published
    results before a conclusion counts as changed."""

    targets: list[str]  # targets whose times are compared (default: the report target)
    time_factor: float = 1.25  # time to a target: within this factor (a run that missed it: ≥ its budget)
    final_loss_factor: float = 1.5  # mean final relative loss: within this factor


@dataclass
class Spec:
    path: Path
    name: str
    description: str
    config: Path  # the base run configuration
    engine: str  # "simulate" (virtual clock, one process) or "train" (MPI)
    set: dict[str, Any]
    axes: list[Axis]
    method_axis: str
    seed_axis: str | None
    tune: Tune | None
    report: Report
    check: Check | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    text: str = ""  # the spec file as read (the sweep directory's sweep.toml is a copy)
    base: dict[str, Any] = field(default_factory=dict)  # the base configuration's TOML, as loaded

    def axis(self, name: str) -> Axis:
        for a in self.axes:
            if a.name == name:
                return a
        raise SpecError(f"{self.path}: no grid axis named {name!r}")


def check_key(key: str, where: str) -> None:
    parts = key.split(".")
    if len(parts) != 2 or not all(parts):
        raise SpecError(f"{where}: {key!r} is not a configuration key (section.key, e.g. run.method)")


def check_value(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{where}: {value} is not finite (every number must be finite)")
    if isinstance(value, dict):
        raise SpecError(f"{where}: a table is not a configuration value")
    if isinstance(value, list):
        for v in value:
            check_value(v, where)


def parse_axes(table: Any, where: str) -> list[Axis]:
    if not isinstance(table, dict):
        raise SpecError(f"{where}: expected a table of axes")
    axes = []
    for name, values in table.items():
        here = f"{where}.{name}"
        if not isinstance(values, list) or not values:
            raise SpecError(f"{here}: expected a non-empty list of values")
        if all(isinstance(v, dict) for v in values):
            for v in values:
                if not v:
                    raise SpecError(f"{here}: an empty table sets nothing")
                for key, value in v.items():
                    check_key(key, here)
                    check_value(value, f"{here}.{key}")
            distinct(values, lambda v: items_name(sorted(v.items())), here)
            axes.append(Axis(name, [dict(v) for v in values]))
        elif any(isinstance(v, dict) for v in values):
            raise SpecError(f"{here}: mixes tables and plain values")
        else:
            check_key(name, where)
            for v in values:
                check_value(v, here)
            distinct(values, value_name, here)
            axes.append(Axis(name, [{name: v} for v in values]))
    return axes


def distinct(values: list[Any], name_of, where: str) -> None:
    """SpecError naming `where` if two values read the same in a run directory's name (names.py): the same
    value (`1` and `1.0`, one table in two key orders) or one that reads so (`"1"` and `1`): two points of
    one run directory."""
    seen: dict[str, Any] = {}
    for v in values:
        text = name_of(v)
        if text in seen:
            raise SpecError(f"{where}: {json.dumps(seen[text])} and {json.dumps(v)} would name the same run "
                            f"directory ({text!r}); the values of an axis must be distinct")
        seen[text] = v


def expect(table: dict, key: str, kind: type | tuple, where: str, default: Any = None) -> Any:
    """table[key] if it has the expected type (TOML booleans are not numbers), else default."""
    if key not in table:
        return default
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise SpecError(f"{where}.{key}: expected {names}, got {value!r}")
    return value


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`: tables merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def read_spec_toml(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], str]:
    """The spec's TOML with `sweep.extends` resolved: the named spec (relative to this one) is read
    first and this file's tables are merged over it. Paths in the parent stay relative to the parent;
    its `name` is not inherited (a sweep is named by its own file unless it says otherwise). Returns it and
    the text of this file."""
    if path in seen:
        raise SpecError(f"{path}: sweep.extends makes a cycle: {' -> '.join(map(str, seen + (path,)))}")
    data, raw = read_toml(path, "sweep spec")
    text = data.decode("utf-8")
    sweep = raw.get("sweep", {})
    parent_name = sweep.get("extends") if isinstance(sweep, dict) else None
    if parent_name is None:
        return raw, text
    if not isinstance(parent_name, str):
        raise SpecError(f"{path}: sweep.extends: expected the path of another spec, got {parent_name!r}")
    parent_path = (path.parent / parent_name).resolve()
    parent, _ = read_spec_toml(parent_path, seen + (path,))
    parent_sweep = dict(parent.get("sweep", {}))
    parent_sweep.pop("name", None)
    if "config" in parent_sweep:
        parent_sweep["config"] = str((parent_path.parent / parent_sweep["config"]).resolve())
    parent["sweep"] = parent_sweep
    merged = merge(parent, raw)
    merged["sweep"].pop("extends")
    return merged, text


def read_toml(path: Path, what: str) -> tuple[bytes, dict[str, Any]]:
    """A TOML file's bytes and TOML, read under the reader policy (files.py), bounded as the binary bounds a
    config file."""
    try:
        data = read_regular(path, SPEC_LIMIT)
        return data, tomllib.loads(data.decode("utf-8"))
    except FileError as e:
        raise SpecError(f"{path}: no such file (the {what})" if e.missing else f"the {what} {e}") from None
    except UnicodeDecodeError as e:
        raise SpecError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: {e}") from None
    except RecursionError:
        raise SpecError(f"{path}: arrays or tables nested too deeply") from None


def check_name(name: str, where: str) -> None:
    """sweep.name is one file name inside sweeps/ (and the report's files start with it): never empty, `.`
    or `..` (the sweeps directory itself, or the repository), never with `/` or a control character."""
    if (not name or name in (".", "..") or "/" in name or len(name.encode()) > NAME_BYTES
            or any(unicodedata.category(c).startswith("C") for c in name)):
        raise SpecError(f"{where}: sweep.name must be a file name of at most {NAME_BYTES} bytes, not '.' or '..', "
                        f"without '/' or control characters, got {name!r}")


def phase_sizes(axes: list[Axis], method_axis: str, seed_axis: str | None, tune: Tune | None) -> tuple[int, int]:
    """(tuning runs, comparison runs) the grids make, from the lengths of their axes: what points.py would
    expand, counted without expanding it (tune_points: each method value's hyperparameter grid on every
    tuning seed, for every value of the other non-seed axes but the protocol's)."""
    def size(of: list[Axis]) -> int:
        return math.prod(len(a.values) for a in of)

    compare = size(axes)
    if tune is None:
        return 0, compare
    others = size([a for a in axes if a.name not in (method_axis, seed_axis, PROTOCOL_AXIS)])
    methods = [v.get(method_axis) for v in spec_axis_values(axes, method_axis)]
    per_method = sum(size(tune.grids[m]) for m in methods if isinstance(m, str) and m in tune.grids)
    return others * per_method * len(tune.seeds), compare


def load_spec(path: str | Path) -> Spec:
    path = Path(path).resolve()
    raw, text = read_spec_toml(path)
    where = str(path)
    known = {"sweep", "set", "grid", "tune", "report", "check"}
    for section in raw:
        if section not in known:
            raise SpecError(f"{where}: unknown section [{section}] (known: {', '.join(sorted(known))})")

    sweep = raw.get("sweep", {})
    for key in sweep:
        if key not in {"name", "description", "config", "engine", "method_axis", "seed_axis", "extends"}:
            raise SpecError(f"{where}: [sweep] {key}: unknown key")
    name = expect(sweep, "name", str, "sweep", path.stem)
    check_name(name, where)
    config_text = expect(sweep, "config", str, "sweep")
    if config_text is None:
        raise SpecError(f"{where}: sweep.config (the base run configuration) is required")
    config = (path.parent / config_text).resolve()
    try:
        _, base = read_toml(config, "base configuration")
    except SpecError as e:
        raise SpecError(f"{where}: sweep.config: {e}") from None
    engine = expect(sweep, "engine", str, "sweep", "simulate")
    if engine not in ("simulate", "train"):
        raise SpecError(f"{where}: sweep.engine must be simulate or train, got {engine!r}")

    overrides = raw.get("set", {})
    if not isinstance(overrides, dict):
        raise SpecError(f"{where}: [set] must be a table of key = value")
    for key, value in overrides.items():
        check_key(key, f"{where}: [set]")
        check_value(value, f"{where}: [set] {key}")

    axes = parse_axes(raw.get("grid", {}), f"{where}: grid")
    names = [a.name for a in axes]
    method_axis = expect(sweep, "method_axis", str, "sweep", "run.method")
    seed_default = "run.seed" if "run.seed" in names else None
    seed_axis = expect(sweep, "seed_axis", str, "sweep", seed_default)
    for role, axis_name in (("method_axis", method_axis), ("seed_axis", seed_axis)):
        if axis_name is not None and axis_name != method_axis and axis_name not in names:
            raise SpecError(f"{where}: sweep.{role}: no grid axis named {axis_name!r}")
    key_owner: dict[str, str] = {}
    for a in axes:
        for k in a.keys:
            if k in key_owner:
                raise SpecError(f"{where}: key {k} is set by two grid axes ({key_owner[k]} and {a.name})")
            key_owner[k] = a.name

    tune = None
    if "tune" in raw:
        t = raw["tune"]
        for key in t:
            if key not in {"seeds", "per", "set", "grid", "tie", "protocol", "target"}:
                raise SpecError(f"{where}: [tune] {key}: unknown key")
        if method_axis not in names:
            raise SpecError(f"{where}: [tune] needs a grid axis {method_axis!r} (the methods to tune)")
        grids = {}
        for method, table in t.get("grid", {}).items():
            grids[method] = parse_axes(table, f"{where}: tune.grid.{method}")
            hp_owner: dict[str, str] = {}
            for a in grids[method]:
                for k in a.keys:
                    if k in key_owner:
                        raise SpecError(f"{where}: tune.grid.{method}: {k} is also a grid axis key")
                    if k in hp_owner:
                        raise SpecError(f"{where}: tune.grid.{method}: key {k} is set by two axes ({hp_owner[k]} "
                                        f"and {a.name})")
                    hp_owner[k] = a.name
        methods = [v[method_axis] for v in spec_axis_values(axes, method_axis)]
        for method in grids:
            if method not in methods:
                raise SpecError(f"{where}: tune.grid.{method}: {method!r} is not a value of {method_axis}")
        seeds = expect(t, "seeds", list, "tune", list(DEFAULT_TUNE_SEEDS))
        if not seeds:
            raise SpecError(f"{where}: tune.seeds: give at least one seed")
        for seed in seeds:
            check_value(seed, f"{where}: tune.seeds")
        distinct(seeds, value_name, f"{where}: tune.seeds")
        default_per = [n for n in names if n not in (method_axis, seed_axis)]
        per = expect(t, "per", list, "tune", default_per)
        for n in per:
            if n not in names or n in (method_axis, seed_axis):
                raise SpecError(f"{where}: tune.per: {n!r} is not a grid axis other than method and seed")
        tune_set = expect(t, "set", dict, "tune", {})
        for key, value in tune_set.items():
            check_key(key, f"{where}: tune.set")
            check_value(value, f"{where}: tune.set {key}")
        protocols = expect(t, "protocol", (str, list), "tune", "final-loss")
        protocols = [protocols] if isinstance(protocols, str) else protocols
        for protocol in protocols:
            if protocol not in TUNE_PROTOCOLS:
                raise SpecError(f"{where}: tune.protocol must be {' or '.join(TUNE_PROTOCOLS)} (or a list of "
                                f"them), got {protocol!r}")
        if not protocols or len(set(protocols)) != len(protocols):
            raise SpecError(f"{where}: tune.protocol: a list of distinct protocols, got {protocols!r}")
        tune_target = expect(t, "target", (str, float), "tune")
        if "time-to-target" in protocols and tune_target is None:
            raise SpecError(f"{where}: tune.target is required with tune.protocol = \"time-to-target\"")
        if "time-to-target" not in protocols and tune_target is not None:
            raise SpecError(f"{where}: tune.target goes with tune.protocol = \"time-to-target\" only")
        if tune_target is not None:
            tune_target = canonical_target(str(tune_target), f"{where}: tune.target")
        if len(protocols) > 1:
            if PROTOCOL_AXIS in names:
                raise SpecError(f"{where}: grid.{PROTOCOL_AXIS}: reserved for the tuning protocols")
            # the comparison runs once per protocol: an axis before the seed axis, tuned separately
            protocol_axis = Axis(PROTOCOL_AXIS, [{PROTOCOL_AXIS: p} for p in protocols])
            at = next((i for i, a in enumerate(axes) if a.name == seed_axis), len(axes))
            axes.insert(at, protocol_axis)
            per = per + [PROTOCOL_AXIS]
        tune = Tune(grids, seeds, per, tune_set, nonnegative(t, "tie", "tune", 2.0, where), protocols[0], tune_target,
                    protocols)
    for phase, count in zip(PHASES, phase_sizes(axes, method_axis, seed_axis, tune)):
        if count > MAX_POINTS:
            raise SpecError(f"{where}: the {phase} phase would have {count:,} runs; at most {MAX_POINTS:,} per phase "
                            "(the axes' lengths multiply: split the sweep or thin its grids)")

    r = raw.get("report", {})
    for key in r:
        if key not in {"rows", "columns", "reference", "baselines", "target", "tie", "split", "heatmap", "curves"}:
            raise SpecError(f"{where}: [report] {key}: unknown key")
    rows = expect(r, "rows", str, "report", method_axis)
    columns = expect(r, "columns", str, "report")
    if columns is None:  # the first key of the first axis that is neither rows nor seed
        for a in axes:
            if a.name not in (seed_axis,) and rows not in a.keys:
                columns = a.keys[0]
                break
    target = canonical_target(str(expect(r, "target", (str, float), "report", "0.001")), f"{where}: report.target")
    reference = expect(r, "reference", str, "report")
    baselines = expect(r, "baselines", list, "report")
    all_keys = [k for a in axes for k in a.keys]
    split = expect(r, "split", list, "report", [])
    for key in split:
        if key not in all_keys:
            raise SpecError(f"{where}: report.split: {key!r} is not a key of a grid axis")
    heatmap = expect(r, "heatmap", dict, "report")
    if heatmap is not None:
        if set(heatmap) != {"x", "y"} or not all(v in all_keys for v in heatmap.values()):
            raise SpecError(f"{where}: report.heatmap: expected {{ x = KEY, y = KEY }} with keys of grid axes, "
                            f"got {heatmap!r}")
        if reference is None:
            raise SpecError(f"{where}: report.heatmap needs report.reference (whose speedup it shows)")
    curves = expect(r, "curves", dict, "report", {})
    for key in curves:
        if key not in all_keys:
            raise SpecError(f"{where}: report.curves: {key!r} is not a key of a grid axis")
    report = Report(rows, columns, reference, baselines, target, nonnegative(r, "tie", "report", 2.0, where),
                    list(split), heatmap, dict(curves))

    c = raw.get("check", {})
    if not isinstance(c, dict):
        raise SpecError(f"{where}: [check] must be a table")
    for key in c:
        if key not in {"targets", "time_factor", "final_loss_factor"}:
            raise SpecError(f"{where}: [check] {key}: unknown key")
    targets = [canonical_target(str(v), f"{where}: check.targets") for v in expect(c, "targets", list, "check", [target])]
    check = Check(targets, factor(c, "time_factor", 1.25, where), factor(c, "final_loss_factor", 1.5, where))
    return Spec(path, name, expect(sweep, "description", str, "sweep", ""), config, engine, dict(overrides),
                axes, method_axis, seed_axis, tune, report, check, raw, text, base)


def canonical_target(text: str, where: str) -> str:
    """A target as the spec writes it, canonical: a relative target as its summary.json key ("0.001"; also
    "1e-3"), an accuracy target as "accuracy:" + its key ("accuracy:0.88"; also "accuracy:.88"), a loss
    target as "loss:" + its value as {:g} spells it ("loss:2.2"; also "loss:2.20")."""
    if text.startswith(ACCURACY_PREFIX):
        try:
            threshold = "{:g}".format(float(text[len(ACCURACY_PREFIX):]))
        except ValueError:
            threshold = None
        if threshold in ACCURACY_TARGETS:
            return ACCURACY_PREFIX + threshold
    elif text.startswith(LOSS_PREFIX):
        try:
            value = float(text[len(LOSS_PREFIX):])
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value > 0:
            return LOSS_PREFIX + "{:g}".format(value)
    else:
        text = {"1e-3": "0.001", "1e-2": "0.01", "1e-1": "0.1", "1e-4": "0.0001", "1e-6": "1e-06"}.get(text, text)
        if text in TARGETS:
            return text
    raise SpecError(f"{where} must be a relative target ({', '.join(TARGETS)}), an accuracy target "
                    f"({', '.join(ACCURACY)}) or a loss target (loss: and a finite value > 0, e.g. loss:2.2), "
                    f"got {text!r}")


def split_target(target: str) -> tuple[str, str]:
    """A canonical target → (where its time comes from, its key there): the summary.json object
    ("time_to_relative_target", "time_to_accuracy"), or "loss" (the first eval.csv row at or below the
    value) for a loss target."""
    if target.startswith(ACCURACY_PREFIX):
        return "time_to_accuracy", target[len(ACCURACY_PREFIX):]
    if target.startswith(LOSS_PREFIX):
        return "loss", target[len(LOSS_PREFIX):]
    return "time_to_relative_target", target


def is_accuracy(target: str) -> bool:
    return split_target(target)[0] == "time_to_accuracy"


def is_loss(target: str) -> bool:
    return split_target(target)[0] == "loss"


def target_value(target: str) -> float:
    """The number a target compares with: a relative loss, a test accuracy or an evaluated loss."""
    return float(split_target(target)[1])


def target_phrase(target: str) -> str:
    """A target in words: "test accuracy ≥ 0.88", "evaluated loss ≤ 2.2", or "(f − f*) / (f(X0) − f*) below
    0.001"."""
    field, key = split_target(target)
    if field == "time_to_accuracy":
        return f"test accuracy ≥ {key}"
    return f"evaluated loss ≤ {key}" if field == "loss" else f"(f − f*) / (f(X0) − f*) below {key}"


def named_targets(spec: Spec) -> list[str]:
    """The targets the spec names: report.target, check.targets, tune.target (in that order, repeats kept)."""
    return [spec.report.target] + (spec.check.targets if spec.check else []) + (
        [spec.tune.target] if spec.tune and spec.tune.target else [])


def loss_targets(spec: Spec) -> tuple[str, ...]:
    """The loss targets the spec names, once each, the highest (the easiest) first."""
    return tuple(sorted({t for t in named_targets(spec) if is_loss(t)}, key=target_value, reverse=True))


def eval_interval(spec: Spec, phase: str = "compare") -> float:
    """run.eval_every_s of a phase's runs (tuning runs: tune.set first) where no grid axis sets it: the
    resolution of a time to target. A grid axis may set it per cell (a linked axis with the horizon):
    overrides_interval and labels_interval give a cell's own."""
    value = spec.tune.set.get("run.eval_every_s") if phase == "tune" and spec.tune else None
    if value is None:
        value = spec.set.get("run.eval_every_s")
    if value is None:
        value = spec.base.get("run", {}).get("eval_every_s", 1.0)
    return float(value)


def overrides_interval(spec: Spec, overrides: list[tuple[str, Any]]) -> float:
    """run.eval_every_s of a run with these --set overrides (the last one wins; they hold [set], the grid
    values and tune.set), else the base config's."""
    for key, value in reversed(overrides):
        if key == "run.eval_every_s":
            return float(value)
    return eval_interval(spec)


def labels_interval(spec: Spec, labels: dict[str, Any]) -> float:
    """run.eval_every_s of the comparison runs with these grid labels: a grid value, else the spec's."""
    value = labels.get("run.eval_every_s")
    return float(value) if value is not None else eval_interval(spec)


def nonnegative(table: dict, key: str, section: str, default: float, where: str) -> float:
    value = float(expect(table, key, (int, float), section, default))
    if not math.isfinite(value) or value < 0:
        raise SpecError(f"{where}: {section}.{key} must be a finite number ≥ 0, got {value!r}")
    return value


def factor(table: dict, key: str, default: float, where: str) -> float:
    value = float(expect(table, key, (int, float), "check", default))
    if not math.isfinite(value) or value < 1:
        raise SpecError(f"{where}: check.{key} must be a finite factor ≥ 1, got {value!r}")
    return value


def spec_axis_values(axes: list[Axis], name: str) -> list[dict[str, Any]]:
    for a in axes:
        if a.name == name:
            return a.values
    return []
