"""Aggregation: tables (CSV, Markdown) over seeds, speedups of the reference method, and publishing.

Statistics over seeds: mean ± sample standard deviation. A run that never reached a target is not
averaged in: the cell says how many did, and a mean that counts those runs at their full training time
is marked ≥ (a lower bound). Speedup = mean time of the baseline / mean time of the reference."""
from __future__ import annotations

import csv
import io
import itertools
import json
import math
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .files import TABLE_LIMIT, FileError, read_regular, write_atomic, write_text
from .spec import (ACCURACY, PROTOCOL_AXIS, REPO, Spec, SpecError, TARGETS, eval_interval, labels_interval, is_accuracy,
                   is_loss, loss_targets, named_targets, split_target)
from .names import label_text, short_names
from .points import Point, compare_points, needs_tuning, point_dir
from .rundir import has_accuracy, is_finished, read_summary, relative_final_loss, time_to
from .tuning import is_time_protocol, phase_points, protocol_records, read_tuned_json


@dataclass
class Stat:
    """A statistic over seeds: mean, sample standard deviation, min, max of the finite values, and
    how many of the n runs reached a finite value (time to target: reached the target at all)."""

    n: int
    reached: int
    mean: float
    std: float
    min: float
    max: float
    bound: float  # mean with each unreached run counted at `cap` (a lower bound on the true mean)

    @property
    def complete(self) -> bool:
        return self.n > 0 and self.reached == self.n


def stat(values: list[float | None], cap: list[float] | None = None) -> Stat:
    """values: one per seed, None or inf = not reached. cap: per seed, what an unreached value is at
    least (the run's training time); used for the lower bound."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    n = len(values)
    if not finite:
        mean = std = lo = hi = math.inf
    else:
        mean = statistics.fmean(finite)
        std = statistics.stdev(finite) if len(finite) > 1 else 0.0
        lo, hi = min(finite), max(finite)
    if len(finite) < n:
        mean_all, hi = math.inf, math.inf
    else:
        mean_all = mean
    bounded = []
    for i, v in enumerate(values):
        if v is not None and math.isfinite(v):
            bounded.append(v)
        elif cap is not None:
            bounded.append(cap[i])
    bound = statistics.fmean(bounded) if bounded and (cap is not None or len(finite) == n) else math.inf
    return Stat(n, len(finite), mean_all, std, lo, hi, bound)


def fastest(entries: list[tuple[Any, float, float, int]], tie: float, resolution: float
            ) -> tuple[list[tuple[Any, float]], list[Any]]:
    """Who reached a target first. entries: (method, mean time, sample std, runs) of the methods that
    reached it in every run. Returns the ranking [(method, mean)], fastest first, and the methods tied
    with the fastest: within noise of it, i.e. mean − fastest's mean ≤ tie · sqrt(se² + se_fastest²)
    (se = std / sqrt(runs)) plus one evaluation interval (times are sampled on that grid)."""
    ranked = sorted(entries, key=lambda e: e[1])
    if not ranked:
        return [], []
    first = ranked[0]
    se = lambda e: e[2] / math.sqrt(e[3]) if e[3] > 0 and math.isfinite(e[2]) else 0.0  # noqa: E731
    ties = [e[0] for e in ranked[1:] if e[1] - first[1] <= tie * math.hypot(se(first), se(e)) + resolution]
    return [(e[0], e[1]) for e in ranked], ties


@dataclass
class Group:
    labels: dict[str, Any]  # grid values except the seed
    runs: list[tuple[Point, dict[str, Any]]]  # (point, summary) per seed that finished
    missing: list[Point]
    times: dict[str, Stat] = field(default_factory=dict)  # target (relative, accuracy, loss) → time to reach it
    final: Stat | None = None  # final_loss / initial_loss
    final_abs: Stat | None = None  # summary.json final_loss (f − f*; a learning objective's evaluated loss)
    accuracy: bool = False  # some run reports test accuracy (a learning objective)
    final_accuracy: Stat | None = None  # final test accuracy (runs that report it)
    best_accuracy: Stat | None = None
    budget: float = 0.0  # training time of the runs (the cap for unreached targets)


def collect(spec: Spec, sweep_dir: Path) -> list[Group]:
    points = phase_points(spec, "compare", sweep_dir)
    named_loss = loss_targets(spec)
    groups: dict[str, Group] = {}
    for p in points:
        labels = {k: v for k, v in p.labels.items() if k != "__method__" and not (
            spec.seed_axis and k in spec.axis(spec.seed_axis).keys)}
        key = json.dumps(labels, sort_keys=True)
        g = groups.setdefault(key, Group(labels, [], []))
        directory = point_dir(sweep_dir, p)
        summary = read_summary(directory, eval_loss=bool(named_loss)) if is_finished(spec, p, directory) else None
        if summary is None:
            g.missing.append(p)
        else:
            g.runs.append((p, summary))
    for g in groups.values():
        caps = [float(s.get("train_time_s", math.inf)) for _, s in g.runs]
        g.budget = max(caps) if caps else 0.0
        for target in TARGETS + ACCURACY + named_loss:
            g.times[target] = stat([time_to(s, target) for _, s in g.runs], caps)
        g.final = stat([relative_final_loss(s) for _, s in g.runs])
        g.final_abs = stat([float(s.get("final_loss", math.inf)) for _, s in g.runs])
        g.accuracy = any(has_accuracy(s) for _, s in g.runs)
        g.final_accuracy, g.best_accuracy = (stat([number(s.get(k)) for _, s in g.runs])
                                             for k in ("final_accuracy", "best_accuracy"))
    return list(groups.values())


def shows_accuracy(spec: Spec, groups: list[Group]) -> bool:
    """Whether the report has accuracy targets: the runs report test accuracy, or the spec asks for one."""
    return any(g.accuracy for g in groups) or any(map(is_accuracy, named_targets(spec)))


def report_targets(spec: Spec, groups: list[Group]) -> tuple[str, ...]:
    """The targets of the report's tables: the relative ones (not with a loss target as the report target:
    an objective whose f* is unknown), the loss targets the spec names, and the accuracy ones when shown."""
    relative = () if is_loss(spec.report.target) else TARGETS
    return relative + loss_targets(spec) + (ACCURACY if shows_accuracy(spec, groups) else ())


def final_loss_of(spec: Spec) -> tuple[str, Callable[[Group], Stat]]:
    """The final loss the report's tables show: (what it is, after "final loss" in a heading; the Group's
    statistic). (f − f*) / (f(X0) − f*); with a loss target as the report target (f* unknown), the evaluated
    loss itself (summary.json final_loss), named by "final loss" alone."""
    if is_loss(spec.report.target):
        return "", lambda g: g.final_abs
    return "(f − f*) / (f(X0) − f*)", lambda g: g.final


@dataclass
class Speedup:
    """time(baseline) / time(reference) at the report target, for one column value."""

    value: float  # ratio of the mean times; inf if the baseline never reached it
    lower_bound: bool  # the baseline missed the target in some runs: value ≥ (bound mean) / reference
    ratio_min: float  # spread of the per-seed ratios (paired by seed: same problem, same delays)
    ratio_max: float
    defined: bool  # False when the reference missed the target in some run, or either has no runs


def speedup(reference: Group, baseline: Group, target: str, seed_key: str | None) -> Speedup:
    r, b = reference.times[target], baseline.times[target]
    if not r.complete or r.mean <= 0 or b.n == 0:
        return Speedup(math.nan, False, math.nan, math.nan, False)
    lower = not b.complete
    value = (b.bound if lower else b.mean) / r.mean
    ratios = []
    if seed_key is not None:
        ref_by_seed = {p.labels.get(seed_key): time_to(s, target) for p, s in reference.runs}
        for p, s in baseline.runs:
            seed = p.labels.get(seed_key)
            if seed in ref_by_seed and ref_by_seed[seed] > 0:
                ratios.append(time_to(s, target) / ref_by_seed[seed])
    lo = min(ratios) if ratios else math.nan
    hi = max(ratios) if ratios else math.nan
    return Speedup(value, lower, lo, hi, True)


def fmt_num(v: float, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return f"{v:.{digits}g}"


def fmt_time(s: Stat) -> str:
    """Markdown cell for a time to target."""
    if s.n == 0:
        return "—"
    if s.complete:
        return f"{s.mean:.3g} ± {s.std:.2g}" if s.n > 1 else f"{s.mean:.3g}"
    if s.reached == 0:
        return f"not reached ({s.reached}/{s.n})"
    return f"≥ {s.bound:.3g} ({s.reached}/{s.n} reached)"


def fmt_loss(s: Stat) -> str:
    if s.n == 0:
        return "—"
    if s.reached < s.n:
        return f"diverged ({s.n - s.reached}/{s.n})"
    return f"{s.mean:.3g} ± {s.std:.2g}" if s.n > 1 else f"{s.mean:.3g}"


def fmt_accuracy(s: Stat) -> str:
    """Markdown cell for a test accuracy over seeds: "—" unless every run reports one."""
    if not s.complete:
        return "—"
    return f"{s.mean:.3g} ± {s.std:.2g}" if s.n > 1 else f"{s.mean:.3g}"


def fmt_speedup(s: Speedup) -> str:
    if not s.defined:
        return "n/a"  # the reference missed the target in some run, or a cell has no runs
    if math.isinf(s.value):
        return "∞"
    text = ("≥ " if s.lower_bound else "") + f"{s.value:.3g}×"
    if math.isfinite(s.ratio_min) and math.isfinite(s.ratio_max) and s.ratio_min != s.ratio_max:
        text += f" ({s.ratio_min:.3g}–{s.ratio_max:.3g})"
    return text


def target_text(target: str) -> str:
    """A target, short: "1e-3" (relative loss), "test accuracy ≥ 0.88" or "loss ≤ 2.2"."""
    field, key = split_target(target)
    if field == "time_to_accuracy":
        return f"test accuracy ≥ {key}"
    if field == "loss":
        return f"loss ≤ {key}"
    return {"0.1": "1e-1", "0.01": "1e-2", "0.001": "1e-3", "0.0001": "1e-4", "1e-06": "1e-6"}[key]


def target_heading(target: str) -> str:
    """What a time to `target` is a time to: "relative loss 1e-3", "test accuracy ≥ 0.88" or "loss ≤ 2.2"."""
    relative = split_target(target)[0] == "time_to_relative_target"
    return f"relative loss {target_text(target)}" if relative else target_text(target)


def ordered_values(spec: Spec, key: str) -> list[Any]:
    for a in spec.axes:
        if key in a.keys:
            out = []
            for v in a.values:
                if key in v and v[key] not in out:
                    out.append(v[key])
            return out
    return []


def report_layout(spec: Spec) -> tuple[str, str | None, str | None, list[str]]:
    """(rows key, columns key, seed key, other label keys that split the report into tables)."""
    rows, cols = spec.report.rows, spec.report.columns
    seed_keys = spec.axis(spec.seed_axis).keys if spec.seed_axis else []
    skip_axes = set()
    for a in spec.axes:
        if rows in a.keys or (cols is not None and cols in a.keys) or a.name == spec.seed_axis:
            skip_axes.add(a.name)
    others = [k for a in spec.axes if a.name not in skip_axes for k in a.keys]
    others = [k for k in spec.report.split if k not in others and k not in (rows, cols)] + others
    return rows, cols, (seed_keys[0] if seed_keys else None), others


def table_splits(spec: Spec, exclude: tuple[str, ...] = ()) -> list[tuple[dict[str, Any], str]]:
    """Every combination of the values that split the report into tables: the split keys first, then the
    axes that are neither rows, columns nor seed — a linked axis by its values (its keys move together),
    named by its first key. Dimensions that hold a key of `exclude` are left out. Returns (the labels the
    tables' cells have, their title "workers = 16, geometry = l2")."""
    rows, cols, _, others = report_layout(spec)
    split = [k for k in spec.report.split if k not in (rows, cols)]
    dims: list[list[dict[str, Any]]] = [[{k: v} for v in ordered_values(spec, k)] for k in split]
    for a in spec.axes:
        if a.name != spec.seed_axis and not any(k in (rows, cols) or k in split for k in a.keys):
            dims.append([dict(v) for v in a.values])
    dims = [d for d in dims if not any(k in exclude for v in d for k in v)]
    short = short_names(others)
    out = []
    for combo in itertools.product(*dims):
        fixed = {k: v for value in combo for k, v in value.items()}
        title = ", ".join(f"{short.get(k, k)} = {label_text(value[k])}" for value in combo for k in list(value)[:1])
        out.append((fixed, title))
    return out


def speedup_table(spec: Spec, groups: list[Group]) -> list[dict[str, Any]]:
    rows_key, cols_key, seed_key, others = report_layout(spec)
    reference = spec.report.reference
    if reference is None:
        return []
    out = []
    # A method axis may carry other keys with each method (a linked axis: its stepsize): cells of two
    # methods are paired on every other label.
    row_axis_keys = next((a.keys for a in spec.axes if rows_key in a.keys), [rows_key])
    def pairing(labels: dict[str, Any], method: Any) -> str:
        return json.dumps({**{k: v for k, v in labels.items() if k not in row_axis_keys}, rows_key: method},
                          sort_keys=True)
    by_labels = {pairing(g.labels, g.labels.get(rows_key)): g for g in groups}
    methods = ordered_values(spec, rows_key)
    baselines = spec.report.baselines or [m for m in methods if m != reference]
    for g in groups:
        if g.labels.get(rows_key) != reference:
            continue
        for b in baselines:
            other = by_labels.get(pairing(g.labels, b))
            if other is None:
                continue
            s = speedup(g, other, spec.report.target, seed_key)
            out.append({"labels": {k: v for k, v in g.labels.items() if k != rows_key}, "baseline": b,
                        "speedup": s})
    return out


@dataclass
class HeatCell:
    """One cell of the heat map: the reference's speedup over the best baseline (the lowest time to the
    report target among the baselines) at one x, y and panel."""

    speedup: Speedup  # over the best baseline; lower_bound when that baseline missed the target in some run
    baseline: Any  # the best baseline (None when undefined)


def heatmap_panels(spec: Spec) -> list[tuple[dict[str, Any], str]]:
    """The heat map's panels (labels, title): every combination of the splits other than its x and y."""
    return table_splits(spec, tuple((spec.report.heatmap or {}).values()))


def heatmap(spec: Spec, speedups: list[dict[str, Any]], panel: dict[str, Any]) -> dict[tuple[Any, Any], HeatCell]:
    """(x value, y value) → HeatCell for one panel, from speedup_table's entries. The best baseline is the
    one with the lowest speedup (time of the baseline / time of the reference): a speedup over it holds
    over every baseline; it is a lower bound when that baseline missed the target in some run."""
    x_key, y_key = spec.report.heatmap["x"], spec.report.heatmap["y"]
    cells: dict[tuple[Any, Any], HeatCell] = {}
    for e in speedups:
        labels = e["labels"]
        if any(labels.get(k) != v for k, v in panel.items()) or not e["speedup"].defined:
            continue
        at = (labels.get(x_key), labels.get(y_key))
        if at not in cells or e["speedup"].value < cells[at].speedup.value:
            cells[at] = HeatCell(e["speedup"], e["baseline"])
    return cells


def heatmap_rows(spec: Spec, speedups: list[dict[str, Any]]) -> list[list[Any]]:
    """report/<name>-heatmap.csv: one row per panel, x and y."""
    rows = []
    for panel, _ in heatmap_panels(spec):
        for (x, y), c in heatmap(spec, speedups, panel).items():
            rows.append([panel.get(k, "") for k in panel] + [x, y, c.baseline, fmt_csv(c.speedup.value),
                                                             c.speedup.lower_bound])
    return rows


def heatmap_lines(spec: Spec, speedups: list[dict[str, Any]], short: dict[str, str]) -> list[str]:
    """The heat map as Markdown tables: y down, x across, one table per panel."""
    x_key, y_key = spec.report.heatmap["x"], spec.report.heatmap["y"]
    xs, ys = ordered_values(spec, x_key), ordered_values(spec, y_key)
    lines = [f"## Speedup of `{spec.report.reference}` over the best baseline at {target_text(spec.report.target)}",
             "", "time(best baseline) / time(reference), where the best baseline is the one with the lowest mean time "
             "to the target (named in brackets); ≥: that baseline missed the target in some runs (counted at their "
             "full training time); n/a: the reference missed it in some run.", "",
             f"![heat map]({spec.name}-heatmap.png)", ""]
    for panel, title in heatmap_panels(spec):
        cells = heatmap(spec, speedups, panel)
        lines += [f"**{title or 'all runs'}**", "",
                  f"| {short.get(y_key, y_key)} ↓ {short.get(x_key, x_key)} → | "
                  + " | ".join(label_text(x) for x in xs) + " |", "|---|" + "---|" * len(xs)]
        for y in ys:
            row = []
            for x in xs:
                c = cells.get((x, y))
                row.append(f"{fmt_speedup(c.speedup).split(' (')[0]} ({c.baseline})" if c else "n/a")
            lines.append(f"| {label_text(y)} | " + " | ".join(row) + " |")
        lines.append("")
    return lines


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow(header)
    w.writerows(rows)
    write_text(path, text.getvalue())


def fmt_csv(v: float) -> str:
    if isinstance(v, float) and math.isnan(v):
        return ""
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return repr(float(v))


def aggregate(spec: Spec, sweep_dir: Path, out=None) -> Path:
    """Writes report/<name>.csv (one row per grid cell: method × p × ... with time-to-target and final
    loss statistics over seeds), report/<name>-speedup.csv and report/<name>.md. Returns the report
    directory. Missing runs are listed, not fatal: a partial sweep still gets a partial report."""
    out = out or sys.stderr
    groups = collect(spec, sweep_dir)
    report = sweep_dir / "report"
    report.mkdir(parents=True, exist_ok=True)
    label_keys: list[str] = []
    for g in groups:
        label_keys += [k for k in g.labels if k not in label_keys]

    targets = report_targets(spec, groups)
    accuracy = shows_accuracy(spec, groups)
    header = label_keys + ["seeds", "finished"]
    for t in targets:  # an accuracy target's columns: t_accuracy:0.88_mean, ...
        header += [f"t_{t}_mean", f"t_{t}_std", f"t_{t}_min", f"t_{t}_max", f"t_{t}_reached", f"t_{t}_bound"]
    header += ["final_rel_loss_mean", "final_rel_loss_std", "final_loss_mean", "final_loss_std", "train_time_s"]
    if accuracy:
        header += ["final_accuracy_mean", "final_accuracy_std", "best_accuracy_mean", "best_accuracy_std"]
    rows = []
    for g in groups:
        row = [g.labels.get(k, "") for k in label_keys] + [len(g.runs) + len(g.missing), len(g.runs)]
        for t in targets:
            s = g.times[t]
            row += [fmt_csv(s.mean), fmt_csv(s.std if s.reached else math.nan), fmt_csv(s.min),
                    fmt_csv(s.max), s.reached, fmt_csv(s.bound)]
        row += [fmt_csv(g.final.mean), fmt_csv(g.final.std), fmt_csv(g.final_abs.mean), fmt_csv(g.final_abs.std),
                fmt_csv(g.budget)]
        if accuracy:
            for a in (g.final_accuracy, g.best_accuracy):
                row += [fmt_csv(a.mean), fmt_csv(a.std if a.reached else math.nan)]
        rows.append(row)
    write_csv(report / f"{spec.name}.csv", header, rows)

    speedups = speedup_table(spec, groups)
    sp_keys: list[str] = []
    for s in speedups:
        sp_keys += [k for k in s["labels"] if k not in sp_keys]
    write_csv(report / f"{spec.name}-speedup.csv",
              sp_keys + ["reference", "baseline", "target", "speedup", "lower_bound", "ratio_min", "ratio_max"],
              [[s["labels"].get(k, "") for k in sp_keys] + [
                  spec.report.reference, s["baseline"], spec.report.target,
                  fmt_csv(s["speedup"].value), s["speedup"].lower_bound,
                  fmt_csv(s["speedup"].ratio_min), fmt_csv(s["speedup"].ratio_max)] for s in speedups])

    if spec.report.heatmap:
        panel_keys = list(heatmap_panels(spec)[0][0])
        write_csv(report / f"{spec.name}-heatmap.csv", panel_keys + [
            spec.report.heatmap["x"], spec.report.heatmap["y"], "best_baseline", "speedup", "lower_bound"],
            heatmap_rows(spec, speedups))
    write_text(report / f"{spec.name}.md", markdown(spec, sweep_dir, groups, speedups))
    missing = [p for g in groups for p in g.missing]
    print(f"aggregate: {sum(len(g.runs) for g in groups)} runs in {len(groups)} cells -> {report}", file=out)
    if missing:
        print(f"aggregate: {len(missing)} runs missing (not finished or failed): "
              + ", ".join(p.name for p in missing[:8]) + (" ..." if len(missing) > 8 else ""), file=out)
    return report


# what an unreached target does to a cell, as the report says it
NOT_REACHED = ("a run that never got there counts as not reached, and `≥` marks a mean where those runs are "
               "counted at their full training time (a lower bound)")


def markdown(spec: Spec, sweep_dir: Path, groups: list[Group], speedups: list[dict[str, Any]]) -> str:
    rows_key, cols_key, seed_key, others = report_layout(spec)
    target = spec.report.target
    methods = ordered_values(spec, rows_key)
    columns = ordered_values(spec, cols_key) if cols_key else [None]
    short = short_names(label_keys_of(groups))
    n_seeds = len(spec.axis(spec.seed_axis).values) if spec.seed_axis else 1
    col_name = short.get(cols_key, cols_key) if cols_key else ""
    lines = [f"# Sweep `{spec.name}`", ""]
    if spec.description:
        lines += [spec.description.strip(), ""]
    lines += [
        f"- spec: `{rel(spec.path)}`, base config `{rel(spec.config)}`, engine `{spec.engine}`",
        "- every run: " + (", ".join(f"`{k}={label_text(v)}`" for k, v in spec.set.items()) or "the base config"),
        "- grid: " + " × ".join(f"{a.name} ({len(a.values)})" for a in spec.axes)
        + f" = {len(compare_points(spec))} runs; statistics over {n_seeds} seed(s): mean ± sample std",
    ]
    relative = not is_loss(target)
    if relative:
        lines.append("- time to target: training-clock seconds until (f − f*) / (f(X0) − f*) first fell below the "
                     "target (summary.json `time_to_relative_target`, sampled every `run.eval_every_s`); " + NOT_REACHED)
    if loss_targets(spec):
        lines.append("- time to a loss target (`loss ≤ v`): training-clock seconds until the evaluated loss (eval.csv "
                     "`loss`; the language model's validation cross-entropy in nats per byte) was first at most v "
                     "(sampled every `run.eval_every_s`); " + ("not reached and `≥` as above" if relative else NOT_REACHED))
    accuracy = shows_accuracy(spec, groups)
    if accuracy:
        lines.append("- time to an accuracy target (`test accuracy ≥ a`): training-clock seconds until the "
                     "evaluated test accuracy first reached at least a (summary.json `time_to_accuracy`, sampled "
                     "every `run.eval_every_s`); not reached and `≥` as above")
    missing = [p for g in groups for p in g.missing]
    if missing:
        lines += [f"- **incomplete**: {len(missing)} runs missing: " + ", ".join(p.name for p in missing[:8])]
    lines.append("")

    if spec.report.heatmap:
        lines += heatmap_lines(spec, speedups, short)
    for fixed, title in table_splits(spec):
        suffix = f" — {title}" if title else ""

        def cell(method: Any, column: Any) -> Group | None:
            labels = {**fixed, rows_key: method}
            if cols_key:
                labels[cols_key] = column
            for g in groups:  # linked keys (e.g. the budget tied to p) are matched loosely
                if all(g.labels.get(k) == v for k, v in labels.items()):
                    return g
            return None

        head = "| method | " + " | ".join(column_head(col_name, c) for c in columns) + " |"
        rule = "|---|" + "---|" * len(columns)
        lines += [f"## Time to {target_heading(target)} (s){suffix}", "", head, rule]
        tied = tied_groups(spec, sweep_dir)
        for m in methods:
            cells = [fmt_time(g.times[target]) + (" ‡" if is_tied(g, tied) else "") if (g := cell(m, c)) else "—"
                     for c in columns]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines.append("")
        if tied:
            lines += ["‡: the method's tuned values are a tie (several grid points within noise, see Tuned "
                      "hyperparameters): the first in grid order ran; another machine may choose another of "
                      "them, and that one's time may differ.", ""]
        budgets = [cell(methods[0], c) for c in columns] if methods else []  # a grid without a method axis: none
        if budgets and all(budgets):
            lines += ["Training time of every run: " + ", ".join(
                f"{column_head(col_name, c)}: {g.budget:.4g} s" for c, g in zip(columns, budgets)), ""]

        if spec.report.reference is not None:
            mine = [s for s in speedups if all(s["labels"].get(k) == v for k, v in fixed.items())]
            baselines = [b for b in (spec.report.baselines or methods) if b != spec.report.reference]
            lines += [f"## Speedup of `{spec.report.reference}` at {target_text(target)}{suffix}", "",
                      "time(baseline) / time(reference), ratio of the means; in brackets the range of the "
                      "per-seed ratios (same seed: same problem and delays); ≥: the baseline missed the target "
                      "in some runs, counted at their full training time; n/a: the reference missed it.", "",
                      "| baseline | " + " | ".join(column_head(col_name, c) for c in columns)
                      + " | grows with " + col_name + " |",
                      "|---|" + "---|" * (len(columns) + 1)]
            for b in baselines:
                row = []
                values = []
                for c in columns:
                    s = next((s for s in mine if s["baseline"] == b and (
                        cols_key is None or s["labels"].get(cols_key) == c)), None)
                    row.append(fmt_speedup(s["speedup"]) if s else "—")
                    values.append(s["speedup"] if s else None)
                lines.append(f"| {b} | " + " | ".join(row) + f" | {grows(values)} |")
            lines.append("")
            lines += claim_lines(spec, groups, methods, columns, cell, col_name)

        lines += final_loss_lines(spec, methods, columns, cell, col_name, suffix, fixed.get(PROTOCOL_AXIS))
        shown = [t for t in report_targets(spec, groups) if t != TARGETS[-1]]  # 1e-6: in the CSV only
        final_name, final = final_loss_of(spec)
        # without a column axis the table has no column column
        col_head, col_rule = (f" {col_name} |", "---|") if col_name else ("", "")
        lines += [f"## All targets and final loss{suffix}", "",
                  f"| method |{col_head} " + " | ".join(f"t({target_text(t)}) s" for t in shown)
                  + f" | final {final_name or 'loss'} |" + (" final test accuracy |" if accuracy else ""),
                  "|---|" + col_rule + "---|" * (len(shown) + 1 + accuracy)]
        for m in methods:
            for c in columns:
                g = cell(m, c)
                if g is None:
                    continue
                col_cell = f" {label_text(c)} |" if col_name else ""
                lines.append(f"| {m} |{col_cell} " + " | ".join(fmt_time(g.times[t]) for t in shown)
                             + f" | {fmt_loss(final(g))} |" + (f" {fmt_accuracy(g.final_accuracy)} |" if accuracy else ""))
        lines.append("")

    if (tuned := tuned_record(spec, sweep_dir)) is not None:
        lines += tuned_lines(spec, tuned)
    # `sweep.py plot` writes these next to this file
    lines += ["## Plots", ""]
    for _, suffix, title in curve_figures(spec):
        lines += [f"![loss vs time{title}]({spec.name}-loss-vs-time{suffix}.png)", ""]
        if any(g.accuracy for g in groups):
            lines += [f"![accuracy vs time{title}]({spec.name}-accuracy-vs-time{suffix}.png)", ""]
    if spec.report.reference is not None and cols_key is not None and not others:
        lines += [f"![speedup]({spec.name}-speedup.png)", ""]
    return "\n".join(lines)


def curve_figures(spec: Spec) -> list[tuple[dict[str, Any], str, str]]:
    """The loss-vs-time figures: one over every cell, or with report.curves one per combination of the
    other splits among the cells with the curves' labels. (labels, file name suffix, title suffix)"""
    if not spec.report.curves:
        return [({}, "", "")]
    others = report_layout(spec)[3]
    short = short_names(others + [k for k in spec.report.curves if k not in others])
    given = ", ".join(f"{short.get(k, k)} = {label_text(v)}" for k, v in spec.report.curves.items())
    out = []
    for fixed, title in table_splits(spec, tuple(spec.report.curves)):
        text = ", ".join(t for t in (given, title) if t)
        out.append(({**spec.report.curves, **fixed}, "-" + text.replace(" = ", "=").replace(", ", "-").replace("/", "_"),
                    f" ({text})"))
    return out


def column_head(col_name: str, value: Any) -> str:
    """A table column's heading: `p = 0.5`, or `all runs` when the report has no column axis."""
    return f"{col_name} = {label_text(value)}" if col_name else "all runs"


def final_loss_lines(spec: Spec, methods: list[Any], columns: list[Any], cell, col_name: str,
                     suffix: str, protocol: str | None = None) -> list[str]:
    """The metric the tuning optimizes: (f − f*) / (f(X0) − f*) at the end of training (with a loss report
    target the evaluated loss: final_loss_of), per method × column, and the reference's advantage in it
    (final loss of the baseline / final loss of the reference). protocol: the tuning protocol of these runs,
    when the sweep has several."""
    head = "| method | " + " | ".join(column_head(col_name, c) for c in columns) + " |"
    rule = "|---|" + "---|" * len(columns)
    tuned_by = ("this is what the tuning minimizes (on the tuning seeds)" if not spec.tune
                or (protocol or spec.tune.protocol) == "final-loss" else
                f"the tuning minimized the time to {target_heading(spec.tune.target)} instead")
    final_name, final = final_loss_of(spec)
    heading = "Final loss" + (f" {final_name}" if final_name else "")
    lines = [f"## {heading} at the end of training{suffix}", "",
             f"Mean ± sample std over seeds; {tuned_by}.", "", head, rule]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(fmt_loss(final(g)) if (g := cell(m, c)) else "—" for c in columns) + " |")
    lines.append("")
    reference = spec.report.reference
    if reference is None:
        return lines
    lines += [f"Final loss of each method / final loss of `{reference}` (> 1: `{reference}` ends lower):", "",
              head.replace("| method |", "| baseline |") + f" grows with {col_name} |", rule + "---|"]
    for m in methods:
        if m == reference:
            continue
        ratios = []
        for c in columns:
            g, r = cell(m, c), cell(reference, c)
            ok = g is not None and r is not None and final(g).complete and final(r).complete and final(r).mean > 0
            ratios.append(final(g).mean / final(r).mean if ok else math.nan)
        # "grows" needs at least two columns to compare
        growing = (all(b > a for a, b in zip(ratios, ratios[1:]))
                   if len(ratios) > 1 and not any(map(math.isnan, ratios)) else None)
        lines.append(f"| {m} | " + " | ".join(f"{v:.3g}×" if not math.isnan(v) else "—" for v in ratios)
                     + f" | {'—' if growing is None else 'yes' if growing else 'no'} |")
    lines.append("")
    return lines


def label_keys_of(groups: list[Group]) -> list[str]:
    keys: list[str] = []
    for g in groups:
        keys += [k for k in g.labels if k not in keys]
    return keys


def grows(values: list[Speedup | None]) -> str:
    """Whether the speedup increases from each column to the next: "yes", "no", or "unclear" when a
    lower bound (a baseline that missed the target) leaves the order open; "—" if undefined."""
    if len(values) < 2 or any(v is None or not v.defined for v in values):
        return "—"
    verdict = "yes"
    for a, b in zip(values, values[1:]):
        if b.value > a.value and not a.lower_bound:
            continue  # b's true value is ≥ b.value > a's true value
        if b.value <= a.value and not b.lower_bound:
            return "no"  # b's true value is b.value ≤ a.value ≤ a's true value
        verdict = "unclear"
    return verdict


def tuned_record(spec: Spec, sweep_dir: Path) -> dict[str, Any] | None:
    """The sweep's tuned.json, or None where there is none (nothing to tune, or not chosen yet)."""
    path = sweep_dir / "tuned.json"
    return read_tuned_json(path) if needs_tuning(spec) and path.exists() else None


def tied_groups(spec: Spec, sweep_dir: Path) -> set[str]:
    """The tuning groups whose choice was a tie (tuned.json `ties` not empty)."""
    record = tuned_record(spec, sweep_dir)
    return {key for key, g in record["groups"].items() if g.get("ties")} if record is not None else set()


def is_tied(g: Group, tied: set[str]) -> bool:
    points = [p for p, _ in g.runs] + g.missing
    return bool(points) and points[0].group in tied


def claim_lines(spec: Spec, groups: list[Group], methods: list[Any], columns: list[Any], cell, col_name: str) -> list[str]:
    """Which method reached the target first in each column, and which are within noise of it: the data
    behind the headline claim."""
    target = spec.report.target
    # the evaluation interval of each column's runs: a grid axis may set it per cell, with the horizon
    intervals = {}
    for c in columns:
        cells = [g for m in methods if (g := cell(m, c)) is not None]
        intervals[repr(c)] = labels_interval(spec, cells[0].labels) if cells else eval_interval(spec)
    distinct = sorted(set(intervals.values()))
    interval = f"{distinct[0]:g} s" if len(distinct) == 1 else "its column's, " + ", ".join(f"{v:g}" for v in distinct) + " s"
    lines = [f"Fastest to {target_text(target)} (lowest mean time; only methods that reached it in every run). "
             f"*Within noise* of the fastest: a mean at most {spec.report.tie:g} standard errors of the difference "
             f"plus one evaluation interval ({interval}) later (`report.tie`); such a winner is "
             "not established by this sweep:", ""]
    for c in columns:
        entries = []
        for m in methods:
            g = cell(m, c)
            if g is not None and g.times[target].complete:
                t = g.times[target]
                entries.append((m, t.mean, t.std, t.n))
        ranked, ties = fastest(entries, spec.report.tie, intervals[repr(c)])
        text = ", ".join(f"{m} {t:.3g} s" for m, t in ranked[:3]) or "none reached it"
        if ties:
            text += f" — **winner within noise** of: {', '.join(map(str, ties))}"
        lines.append(f"- {column_head(col_name, c)}: {text}")
    lines.append("")
    return lines


def tuned_lines(spec: Spec, tuned: dict[str, Any]) -> list[str]:
    """The chosen values per method and tuning group; a value at either end of its grid axis is marked
    with † (the best may lie outside the grid)."""
    lines: list[str] = []
    for record in protocol_records(tuned):
        lines += tuned_table(spec, record)
    return lines


def tuned_table(spec: Spec, record: dict[str, Any]) -> list[str]:
    """tuned_lines for the choices of one tuning protocol."""
    keys: list[str] = []
    group_keys: list[str] = []
    for g in record["groups"].values():
        keys += [k for k in g["chosen"] if k not in keys]
        group_keys += [k for k in g["group"] if k != "method" and k not in group_keys]
    names = short_names(keys + group_keys)
    t = spec.tune

    def grid_values(method: str, key: str) -> list[Any]:
        for axis in t.grids.get(method, []):
            values = [v[key] for v in axis.values if key in v]
            if values:
                return values
        return []

    def shown(method: str, key: str, value: Any) -> str:
        if value == "":
            return ""
        values = grid_values(method, key)
        edge = len(values) >= 3 and value in (values[0], values[-1])
        return label_text(value) + (" †" if edge else "")

    n_runs = len(t.seeds)
    by_time = is_time_protocol(record)
    if by_time:
        statistic = (f"Protocol `time-to-target`. Statistic: the training-clock time to {target_heading(record['target'])} "
                     "over the tuning runs, mean ± sample standard deviation, and the range over the runs. A grid "
                     "point that reached the target in every run ranks before any that missed it in some run (a "
                     "diverged or failed run never reached it). *Ties*: the grid points that reached it in every "
                     f"run whose mean is within {t.tie:g} standard errors of the difference (`tune.tie`) plus one "
                     f"evaluation interval ({interval_text(record.get('eval_every_s'))}) of the lowest mean, the "
                     "lowest included. If no grid point reached it in every run, the most runs that reached it "
                     "win, then the lowest mean with the misses counted at the full training time (`≥`, a lower "
                     "bound), ties alike; such a choice is marked **not reached in every run**.")
        column = f"tuning time to {target_text(record['target'])} (s), {n_runs} run(s)"
    else:
        statistic = ("Statistic: the mean over the tuning runs "
                     "of log10 of the final loss relative to the initial loss, shown as its geometric mean ×/÷ the "
                     "spread (one sample standard deviation over the runs) and the range over the runs. *Ties*: the "
                     f"grid points whose mean is within {t.tie:g} standard errors of the difference of the lowest mean "
                     "(`tune.tie`), the lowest included: within noise of each other, so another machine may rank "
                     "them differently.")
        column = f"tuning final loss (rel.), {n_runs} run(s)"
    several = "tune_protocols" in record
    group_keys = [k for k in group_keys if not (several and k == PROTOCOL_AXIS)]
    lines = ["## Tuned hyperparameters" + (f" (protocol `{record['tune_protocol']}`)" if several else ""), "",
             f"Each method's grid ran on tuning seed(s) {t.seeds}"
             + (", with " + ", ".join(f"`{k}={label_text(v)}`" for k, v in t.set.items()) if t.set else "")
             + f", separately for each {', '.join(t.per) or 'method'}. {statistic}"
             + " The choice is the first tie in grid order (the smallest stepsize), which "
               "moves only when a grid point crosses the edge of the tie; the other ties are listed. † marks a "
               "value at the end of its grid. Every candidate's score is in `tuned.json`.", "",
             "| method | " + "".join(names[k] + " | " for k in group_keys) + " | ".join(names[k] for k in keys)
             + f" | {column} | range | ties (within noise) | candidates |",
             "|---|" + "---|" * (len(group_keys) + len(keys) + 4)]
    failed = record.get("failed_runs", [])
    if failed:
        lines[4:4] = [f"{len(failed)} tuning runs ended with an error and no summary (e.g. a stepsize so large "
                      "that the run diverged) and scored +∞: "
                      + ", ".join(f"`{f['run']}` (exit {f['exit_code']})" for f in failed[:8])
                      + (" ..." if len(failed) > 8 else "") + ".", ""]
    for g in record["groups"].values():
        method = g["group"]["method"]
        low, high = (number(v) for v in g.get("range", [math.nan, math.nan]))
        if by_time:
            mean, runs, reached = number(g["time_mean"]), g["runs"], g["reached"]
            statistic = fmt_time(Stat(runs, reached, mean if reached == runs else math.inf,
                                      number(g["time_std"]), low, high, mean))
            statistic += "" if g["reached_every_run"] else " **not reached in every run**"
        else:
            score, spread = number(g["score"]), number(g.get("spread", math.nan))
            statistic = f"{fmt_num(score)} ×/÷ {spread:.3g}"
        ties = "; ".join(", ".join(f"{names[k]} {shown(method, k, v)}" for k, v in tie.items())
                         for tie in g.get("ties", [])) or "none"
        lines.append(f"| {method} | " + "".join(label_text(g["group"].get(k, "")) + " | " for k in group_keys)
                     + " | ".join(shown(method, k, g["chosen"].get(k, "")) for k in keys)
                     + f" | {statistic} | {fmt_num(low)}–{fmt_num(high)} | {ties}"
                     + f" | {len(g['candidates'])} |")
    lines.append("")
    return lines


def interval_text(value: Any) -> str:
    """A tuned.json eval_every_s: "5 s", or, absent (a grid axis set it per cell), where each group's is."""
    return f"{number(value):g} s" if value is not None else "of the group's runs: `eval_every_s` per group in tuned.json"


def number(value: Any) -> float:
    """A number from tuned.json, where inf and nan are written as strings."""
    return float(value) if isinstance(value, (int, float, str)) else math.nan


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def publish(spec: Spec, sweep_dir: Path, target: Path, out=None) -> None:
    """Copies the report (tables, plots) to `target` (e.g. docs/results), with <name>-tuned.json: the
    chosen values and every candidate's score, without the per-run detail of the sweep's tuned.json."""
    out = out or sys.stderr
    target.mkdir(parents=True, exist_ok=True)
    for f in sorted((sweep_dir / "report").iterdir()):
        if f.suffix in (".md", ".csv", ".png"):
            try:
                data = read_regular(f, TABLE_LIMIT)
            except FileError as e:
                raise SpecError(f"publish: {e}") from None
            write_atomic(target / f.name, data)
    if (record := tuned_record(spec, sweep_dir)) is not None:
        # each candidate: [params, geometric mean, spread factor]; by time: [params, mean time, runs reached]
        for g in record["groups"].values():
            by_time = is_time_protocol(record) or is_time_protocol(g)
            g["candidates"] = [[c["params"], c["time_mean"], c["reached"]] if by_time
                               else [c["params"], c["score"], c.get("spread")] for c in g["candidates"]]
        write_text(target / f"{spec.name}-tuned.json", json.dumps(record, indent=1) + "\n")
    print(f"publish: report copied to {target}", file=out)
