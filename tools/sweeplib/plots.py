"""Plots (PNG, Debian's python3-matplotlib): loss vs time per method at each p, the speedup of the
reference method over each baseline vs p, and (report.heatmap) the heat map of its speedup over the best
baseline. Also what every plot of the tools shares (tools/runs.py too): the check that matplotlib can be
imported, made before any work, and log axes labelled so that a range inside one decade can be read."""
from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path
from typing import Any

from .files import write_figure
from .spec import Spec, is_accuracy, is_loss, target_value
from .names import label_text, short_names
from .points import point_dir
from .rundir import read_eval
from .report import (collect, curve_figures, heatmap, heatmap_panels, label_keys_of, ordered_values,
                     report_layout, speedup_table, target_text)


class MissingPlotLibrary(Exception):
    """matplotlib (or numpy) cannot be imported by this Python: one line saying which and what to run."""


def require_matplotlib() -> None:
    """Raises MissingPlotLibrary unless this interpreter can import matplotlib (with its Agg backend) and numpy:
    called before a command does any work that ends in a plot, so that a sweep run with another interpreter
    than its first line names (`python3 tools/sweep.py`, a virtualenv's python3) stops at once instead of after
    its runs."""
    try:
        for module in ("numpy", "matplotlib"):
            importlib.import_module(module)
        import matplotlib

        matplotlib.use("Agg")
        importlib.import_module("matplotlib.pyplot")
    except ImportError as e:
        raise MissingPlotLibrary(
            f"{sys.executable} (Python {sys.version.split()[0]}) cannot import {e.name or 'matplotlib'}, which the "
            "plots need: run the tool itself (its first line is Debian's /usr/bin/python3, which has "
            "python3-matplotlib and python3-numpy), or install them for this Python") from None


def readable_log_axis(ax, axis: str = "y") -> None:
    """Labels a log axis readably once its limits are set: over at most three decades, at 1, 2 and 5 times each
    power of ten, written as plain numbers (0.05, 0.1, 0.2, 0.5, 1, 2), so that a range inside one decade still
    has labels and none reads 1.08×10⁰; over more decades, matplotlib's powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
    if not (0 < lo < hi) or math.log10(hi / lo) > 3:
        return
    which = ax.yaxis if axis == "y" else ax.xaxis
    which.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    which.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    which.set_minor_formatter(NullFormatter())


def plot(spec: Spec, sweep_dir: Path, out=None) -> list[Path]:
    """report/<name>-loss-vs-time.png: one panel per column value (p), one line per method: relative
    loss (f − f*)/(f(X0) − f*) against training time, log scale, geometric mean over seeds with the
    min–max band; with a loss target as the report target (f* unknown), the evaluated loss itself, linear
    scale, arithmetic mean. report/<name>-accuracy-vs-time.png, when eval.csv has an accuracy column: the same for
    test accuracy (arithmetic mean, linear scale). report/<name>-speedup.png: speedup of the reference
    over each baseline vs p."""
    out = out or sys.stderr
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows_key, cols_key, seed_key, others = report_layout(spec)
    groups = collect(spec, sweep_dir)
    report = sweep_dir / "report"
    report.mkdir(parents=True, exist_ok=True)
    methods = ordered_values(spec, rows_key)
    columns = ordered_values(spec, cols_key) if cols_key else [None]
    short = short_names(label_keys_of(groups))
    col_name = short.get(cols_key, cols_key) if cols_key else ""
    target = spec.report.target
    colors = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods)}
    written = []

    def loss_curve(directory: Path):
        t, loss = read_eval(directory)
        return (np.array(t), np.maximum(np.array(loss) / loss[0], 1e-12)) if t and loss[0] > 0 else None

    def column_curve(column: str):
        """The curve of an eval.csv column as it is (test accuracy, an evaluated loss) of a run directory."""
        def curve(directory: Path):
            t, values = read_eval(directory, column)
            return (np.array(t), np.array(values)) if t else None
        return curve

    def vs_time(name: str, curve, center, log: bool, ylabel: str, what: str, line: float | None,
                fixed: dict[str, Any], suffix: str, title: str) -> None:
        """One panel per column, one line per method: center over seeds of curve(run directory) on a
        common time grid, with the min–max band, over the cells with the `fixed` labels; written only if
        some run has such a curve."""
        n = len(columns)
        ncols = min(n, 2 if n == 4 else 3)
        nrows = math.ceil(n / ncols)
        # one panel: wide enough for the title and a legend of several methods
        fig, axes = plt.subplots(nrows, ncols, figsize=(max(5.2 * ncols, 7.8), 3.8 * nrows + (0.8 if n == 1 else 0)),
                                 squeeze=False)
        drawn = False
        for i, c in enumerate(columns):
            ax = axes[i // ncols][i % ncols]
            horizon = 0.0
            lowest = math.inf
            for m in methods:
                g = next((g for g in groups if g.labels.get(rows_key) == m and (
                    cols_key is None or g.labels.get(cols_key) == c)
                    and all(g.labels.get(k) == v for k, v in fixed.items())), None)
                if g is None or not g.runs:
                    continue
                curves = [cv for p, _ in g.runs if (cv := curve(point_dir(sweep_dir, p))) is not None]
                if not curves:
                    continue
                drawn = True
                end = max(t[-1] for t, _ in curves)
                horizon = max(horizon, end)
                grid = np.linspace(0.0, end, 600)
                # the value at time s is the last evaluation at or before s
                values = np.array([v[np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(t) - 1)]
                                   for t, v in curves])
                ax.plot(grid, center(values), color=colors[m], label=str(m), lw=1.4)
                lowest = min(lowest, float(values.min()))
                if len(curves) > 1:
                    ax.fill_between(grid, values.min(axis=0), values.max(axis=0), color=colors[m], alpha=0.15, lw=0)
            if line is not None:
                ax.axhline(line, color="k", ls="--", lw=0.8)
            if log:
                ax.set_yscale("log")
                readable_log_axis(ax)
            elif name == "loss" and line is not None and math.isfinite(lowest):
                # an evaluated loss on a linear axis: the first evaluations (a language model starts near
                # ln 256 = 5.5 nats/byte) would squeeze the range that decides the comparison
                ax.set_ylim(0.97 * lowest, max(1.5 * line, 1.1 * lowest))
            ax.set_xlim(0, horizon or 1)
            ax.set_title(f"{col_name} = {label_text(c)}" if cols_key else spec.name)
            ax.set_xlabel("training time (s)")
            ax.set_ylabel(ylabel)
            ax.grid(True, which="major", alpha=0.3)
        if not drawn and name != "loss":  # the loss plot always, as the report links it; no others without curves
            plt.close(fig)
            return
        for j in range(n, nrows * ncols):
            axes[j // ncols][j % ncols].axis("off")
        legend: dict[str, Any] = {}
        for ax in axes.flat:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                legend.setdefault(label, handle)
        if legend:
            fig.legend(list(legend.values()), list(legend), loc="lower center", frameon=False,
                       ncol=min(len(legend), 3 if n == 1 else 7))
        fig.suptitle(f"{spec.name}{title}:\n{what} vs training time ({'geometric ' if log else ''}mean over seeds, band = "
                     "min–max" + (f"; dashed: target {target_text(spec.report.target)})" if line is not None else ")"),
                     fontsize=10)
        fig.tight_layout(rect=(0, 0.13 if n == 1 else 0.06, 1, 0.9 if n == 1 else 0.92))
        path = report / f"{spec.name}-{name}-vs-time{suffix}.png"
        write_figure(fig, path)
        written.append(path)
        plt.close(fig)

    mean = lambda v: v.mean(axis=0)  # noqa: E731
    for fixed, suffix, title in curve_figures(spec):
        if is_loss(target):
            vs_time("loss", column_curve("loss"), mean, False, "evaluated loss",
                    "evaluated loss", target_value(target), fixed, suffix, title)
        else:
            vs_time("loss", loss_curve, lambda v: np.exp(np.log(v).mean(axis=0)), True, "(f − f*) / (f(X0) − f*)",
                    "relative loss", None if is_accuracy(target) else target_value(target), fixed, suffix, title)
        vs_time("accuracy", column_curve("accuracy"), mean, False, "test accuracy", "test accuracy",
                target_value(target) if is_accuracy(target) else None, fixed, suffix, title)

    speedups = speedup_table(spec, groups)
    if spec.report.heatmap and speedups:
        written.append(heatmap_figure(spec, speedups, report, short, plt, np))
    # per baseline against the columns: only when the columns are the report's one other dimension
    if spec.report.reference is not None and cols_key is not None and speedups and not others:
        written.append(speedup_figure(spec, speedups, columns, cols_key, col_name, methods, colors, report, plt))
    print("plot: " + ", ".join(str(p) for p in written), file=out)
    return written


def speedup_figure(spec: Spec, speedups: list[dict[str, Any]], columns: list, cols_key: str, col_name: str,
                   methods: list, colors: dict, report: Path, plt) -> Path:
    """report/<name>-speedup.png: the reference's speedup over each baseline at each column value (per-seed range
    as a bar; open ▲: a lower bound, the baseline missed the target). Lines join the points of a baseline only
    when the columns are numbers; categories (a protocol) get markers side by side; when one column alone has
    a speedup to show (the sweep has one, or the reference missed the target in the others), one marker per
    baseline along the x axis. The y axis is logarithmic around 1 and labelled where it can be read."""
    baselines = spec.report.baselines or [m for m in methods if m != spec.report.reference]

    def shown(s: dict[str, Any]) -> bool:
        return s["baseline"] in baselines and s["speedup"].defined and math.isfinite(s["speedup"].value)

    with_speedups = [c for c in columns if any(shown(s) and s["labels"].get(cols_key) == c for s in speedups)]
    single = len(with_speedups) == 1
    if single:
        columns = with_speedups
    numeric = not single and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in columns)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    values = [1.0]
    drawn = []
    for i, b in enumerate(baselines):
        points = [(c, s["speedup"]) for c in columns for s in speedups
                  if s["baseline"] == b and s["labels"].get(cols_key) == c and shown(s)]
        if not points:
            continue
        drawn.append(b)
        if single:
            xs = [float(len(drawn) - 1)]
        elif numeric:
            xs = [float(c) for c, _ in points]
        else:  # categories: the baselines side by side around each
            xs = [columns.index(c) + 0.08 * (i - (len(baselines) - 1) / 2) for c, _ in points]
        color = colors.get(b)
        if numeric:
            ax.plot(xs, [q.value for _, q in points], "-", color=color, lw=1.4)
        for x, (_, q) in zip(xs, points):
            ax.plot([x], [q.value], "^" if q.lower_bound else "o", color=color, mfc="none" if q.lower_bound else color,
                    label=None if single else str(b))
            values.append(q.value)
            if math.isfinite(q.ratio_min) and math.isfinite(q.ratio_max) and q.ratio_min > 0:
                ax.vlines(x, q.ratio_min, q.ratio_max, color=color, lw=0.8, alpha=0.6)
                values += [q.ratio_min, q.ratio_max]
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_ylim(min(values) / 1.5, max(values) * 1.5)  # around 1 and every point, however close they are
    readable_log_axis(ax)
    if single:
        ax.set_xticks(range(len(drawn)), [str(b) for b in drawn])
        ax.set_xlim(-0.6, len(drawn) - 0.4)
        ax.set_xlabel(f"baseline ({col_name} = {label_text(columns[0])})")
    else:
        ax.set_xlabel(col_name)
        if not numeric:
            ax.set_xticks(range(len(columns)), [label_text(c) for c in columns])
            ax.set_xlim(-0.5, len(columns) - 0.5)
    ax.set_ylabel(f"time to {target_text(spec.report.target)}: baseline / {spec.report.reference}")
    ax.set_title(f"speedup of {spec.report.reference} (open ▲: lower bound, baseline missed the target; "
                 "bars: per-seed range)", fontsize=8)
    ax.grid(True, which="major", alpha=0.3)
    if not drawn:
        ax.text(0.5, 0.5, "no finite speedup to show", transform=ax.transAxes, ha="center")
    elif not single:
        legend: dict[str, Any] = {}
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
        ax.legend(list(legend.values()), list(legend), fontsize=8)
    fig.tight_layout()
    path = report / f"{spec.name}-speedup.png"
    write_figure(fig, path)
    plt.close(fig)
    return path


def heatmap_figure(spec: Spec, speedups: list[dict[str, Any]], report: Path, short: dict[str, str], plt, np) -> Path:
    """report/<name>-heatmap.png: the reference's speedup over the best baseline at the report target, y
    against x (e.g. workers against p), one panel per value of the other splitting keys (e.g. geometry ×
    tuning protocol). Colour: log2 of the speedup (blue: the reference is faster); each cell names the
    best baseline; ≥ marks a lower bound (that baseline missed the target in some run); grey: undefined
    (the reference missed the target in some run)."""
    from matplotlib.colors import TwoSlopeNorm

    x_key, y_key = spec.report.heatmap["x"], spec.report.heatmap["y"]
    xs, ys = ordered_values(spec, x_key), ordered_values(spec, y_key)
    panels = heatmap_panels(spec)
    ncols = min(len(panels), 2)
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.4 * len(xs) * ncols + 2.0, (0.6 * len(ys) + 1.3) * nrows + 0.6),
                             squeeze=False, constrained_layout=True)
    cells_of = [heatmap(spec, speedups, panel) for panel, _ in panels]
    logs = [math.log2(c.speedup.value) for cells in cells_of for c in cells.values()
            if math.isfinite(c.speedup.value) and c.speedup.value > 0]
    bound = max([abs(v) for v in logs] + [1.0])
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-bound, vmax=bound)
    image = None
    for i, ((_, title), cells) in enumerate(zip(panels, cells_of)):
        ax = axes[i // ncols][i % ncols]
        data = np.full((len(ys), len(xs)), np.nan)
        for (x, y), c in cells.items():
            if x in xs and y in ys and c.speedup.value > 0:
                value = c.speedup.value if math.isfinite(c.speedup.value) else 2.0 ** bound
                data[ys.index(y), xs.index(x)] = math.log2(value)
        image = ax.imshow(np.ma.masked_invalid(data), cmap="RdBu", norm=norm, aspect="auto", origin="lower")
        ax.set_facecolor("0.85")
        for yi, y in enumerate(ys):
            for xi, x in enumerate(xs):
                c = cells.get((x, y))
                text = "n/a" if c is None else (("≥" if c.speedup.lower_bound else "")
                                               + ("∞" if math.isinf(c.speedup.value) else f"{c.speedup.value:.2g}×")
                                               + f"\n{c.baseline}")
                value = data[yi, xi]
                # white on the dark ends of the colour scale, black on light cells and the grey of n/a
                red, green, blue, _ = image.cmap(norm(value)) if math.isfinite(value) else (0.85, 0.85, 0.85, 1)
                dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
                ax.text(xi, yi, text, ha="center", va="center", fontsize=8, color="white" if dark else "black",
                        fontweight="bold" if dark else "normal")
        ax.set_xticks(range(len(xs)), [label_text(x) for x in xs])
        ax.set_yticks(range(len(ys)), [label_text(y) for y in ys])
        ax.set_xlabel(short.get(x_key, x_key))
        ax.set_ylabel(short.get(y_key, y_key))
        ax.set_title(title or spec.name, fontsize=9)
    for j in range(len(panels), nrows * ncols):
        axes[j // ncols][j % ncols].axis("off")
    if image is not None:
        bar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8)
        bar.set_label("log2 speedup", fontsize=8)
    fig.suptitle(f"{spec.name}: speedup of {spec.report.reference} over the best baseline (time to "
                 f"{target_text(spec.report.target)}; cell: speedup and that baseline; blue: {spec.report.reference} "
                 "faster)", fontsize=9)
    path = report / f"{spec.name}-heatmap.png"
    write_figure(fig, path)
    plt.close(fig)
    return path
