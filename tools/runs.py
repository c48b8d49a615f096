#!/usr/bin/python3
"""Looking at Ringmaster runs: one run's summary, the curves of one or several runs in one PNG, several runs side
by side with the differences of their configurations, and a run followed while it writes.

  tools/runs.py show DIR                                  what a run is, how it ended (or that it runs), its numbers
  tools/runs.py plot DIR... [--x time|k] [--out F.png]     loss (validation loss, train_loss dashed) and accuracy
                                                          against training time or k, one line per run
  tools/runs.py compare DIR...                            a table of the runs side by side and their config.toml
                                                          differences
  tools/runs.py follow DIR [--every S] [--out F.png]       eval.csv's rows as they come, until the run ends; with
                                                          --out the plot redrawn as they come
  tools/runs.py find [DIR...] [--name TEXT] [--config FILE] [--same-as RUN] [--hash H]
                                                          the runs under DIR (default runs/), one line each: the
                                                          ones named TEXT, started with -c FILE, of RUN's
                                                          experiment (its config hash) or of hash H

The common case, the MPI and the simulator runs of one configuration:
  tools/runs.py plot runs/A runs/B --out ab.png && tools/runs.py compare runs/A runs/B

A run directory is read as docs/formats.md describes it: config.toml, provenance.json, summary.json (written
when a run ends), eval.csv, workers.csv and .lock; events.csv and delays.csv, which can be gigabytes, are not read. Every file
through tools/file_policy.py (regular files only, bounded), every PNG written whole or not at all. A run that
is still going is one whose .lock names a live ringmaster process on this host; one whose lock is held on
another host is followed until its summary.json appears.

Errors: one line on stderr; exit 2 for bad input (not a run directory, a file that cannot be read as the
binary writes it, no matplotlib for plot), 1 when a PNG cannot be written; follow exits 1 when the run ended
without a summary.json (killed: `--resume` continues from its checkpoint). Needs Debian's /usr/bin/python3 with
python3-matplotlib and python3-numpy for plot (scripts/bootstrap.sh).
"""
from __future__ import annotations

import argparse
import math
import os
import signal
import socket
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from file_policy import FileError, read_regular  # noqa: E402
from run_files import RunFileError, read_config  # noqa: E402
from sweeplib.files import JSON_LIMIT, TABLE_LIMIT, read_csv, read_json, write_figure  # noqa: E402
from sweeplib.plots import MissingPlotLibrary, readable_log_axis, require_matplotlib  # noqa: E402

EXIT_BAD_INPUT, EXIT_FAILED = 2, 1
LOCK_LIMIT = 4096  # .lock holds "pid P on HOST\n"
CMDLINE_LIMIT = 2 << 20  # /proc/PID/cmdline: at most the system's ARG_MAX (2 MiB on Linux)
# summary.json's counters, in the order show and compare print them (docs/method.md §8)
COUNTERS = ("accepted", "discarded", "superseded", "interrupted", "rejected", "retired")
EVAL_COLUMNS = ("loss", "grad_dual_norm", "accuracy", "train_loss")


class RunError(Exception):
    """A directory or a file that cannot be read as a run's: the message names it (exit 2)."""


@dataclass
class Run:
    """What a run directory holds, as read once."""

    dir: Path
    label: str
    config: dict[str, Any]
    config_text: str
    summary: dict[str, Any] | None  # None while the run goes on (or when it was killed)
    eval: list[dict[str, float | None]]  # eval.csv's rows: time_s, k and the columns it has, None where empty
    workers: list[dict[str, float]] = field(default_factory=list)  # workers.csv (written when the run ends)
    state: str = ""  # "running", "finished", "stopped" (by a signal), "ended" (without a summary), "unknown"
    state_text: str = ""  # one line saying so
    command: str | None = None  # while it runs on this host: its ringmaster command ("train", "simulate")
    provenance: dict[str, Any] | None = None  # provenance.json (None for runs made before it existed)

    def setting(self, dotted: str, default: Any = None) -> Any:
        table: Any = self.config
        for part in dotted.split("."):
            table = table.get(part) if isinstance(table, dict) else None
        return default if table is None else table

    def column(self, name: str) -> tuple[list[float], list[float], list[float]]:
        """(time_s, k, values) of the eval.csv rows where `name` has a value."""
        rows = [r for r in self.eval if r.get(name) is not None]
        return [r["time_s"] for r in rows], [r["k"] for r in rows], [r[name] for r in rows]


# --- reading ------------------------------------------------------------------------------------------------

def number(text: str | None, what: str) -> float | None:
    if text in (None, ""):
        return None
    try:
        return float(text)
    except ValueError:
        raise RunError(f"{what}: {text!r} is not a number") from None


def read_table(path: Path) -> list[dict[str, float | None]]:
    try:
        rows = read_csv(path, TABLE_LIMIT)
    except FileError as e:
        raise RunError(str(e) + (" (not a run directory?)" if e.missing else "")) from None
    return [{key: number(value, f"{path}:{line} {key}") for key, value in row.items() if key is not None}
            for line, row in enumerate(rows, 2)]


def lock_holder(directory: Path) -> tuple[int, str] | None:
    """(pid, host) from .lock ("pid P on HOST"), None when there is none or it says something else."""
    try:
        words = read_regular(directory / ".lock", LOCK_LIMIT).decode(errors="replace").split()
    except FileError:
        return None
    if len(words) == 4 and words[0] == "pid" and words[1].isdigit() and words[2] == "on":
        return int(words[1]), words[3]
    return None


def ringmaster_command(pid: int) -> str | None:
    """The command ("train", "simulate") of the ringmaster process `pid` of this host; None when there is no such
    process (a pid since reused by another program included)."""
    try:
        words = read_regular(f"/proc/{pid}/cmdline", CMDLINE_LIMIT).split(b"\0")
    except FileError:
        return None
    if not words or b"ringmaster" not in words[0]:
        return None
    return next((w.decode() for w in words[1:] if w in (b"train", b"simulate")), "?")


def run_state(directory: Path, summary: dict[str, Any] | None) -> tuple[str, str, str | None]:
    """(state, a line saying it, the ringmaster command of a run going on here): see Run."""
    holder = lock_holder(directory)
    command = ringmaster_command(holder[0]) if holder and holder[1] == socket.gethostname() else None
    if command:
        return "running", f"running (ringmaster {command}, pid {holder[0]} on {holder[1]})", command
    if summary is not None:
        reason = summary.get("stop_reason")
        if reason == "signal":
            return "stopped", (f"stopped by a signal after its checkpoint: ringmaster "
                               f"{'train' if summary.get('engine') == 'mpi' else 'simulate'} --resume {directory} "
                               "continues it"), None
        return "finished", f"finished ({reason})", None
    if holder and holder[1] != socket.gethostname():
        return "unknown", (f"no summary.json yet; its lock names pid {holder[0]} on {holder[1]}, another host: it may "
                           "still run there"), None
    resume = (f"; ringmaster train|simulate --resume {directory} continues from its checkpoint"
              if (directory / "checkpoint.bin").is_file() else "")
    return "ended", "ended without a summary.json (killed?)" + resume, None


def load_run(directory: str | os.PathLike, label: str | None = None) -> Run:
    directory = Path(directory)
    if not directory.is_dir():
        raise RunError(f"{directory}: not a directory (a run directory is expected)")
    try:
        text, config = read_config(directory / "config.toml")
    except RunFileError as e:
        raise RunError(str(e)) from None
    summary = None
    try:
        summary = read_json(directory / "summary.json", JSON_LIMIT)
    except FileError as e:
        if not e.missing:
            raise RunError(str(e)) from None
    except ValueError as e:
        raise RunError(f"{directory / 'summary.json'}: not JSON ({e})") from None
    if summary is not None and not isinstance(summary, dict):
        raise RunError(f"{directory / 'summary.json'}: not a JSON object")
    provenance = read_object(directory / "provenance.json")
    rows = read_table(directory / "eval.csv")
    workers = read_table(directory / "workers.csv") if (directory / "workers.csv").exists() else []
    state, state_text, command = run_state(directory, summary)
    if state == "running":
        summary = None  # a resumed run's summary.json is its previous epoch's
    return Run(directory, label or directory.name, config, text, summary, rows, workers, state, state_text, command,
               provenance)


def read_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, None when there is no such file; RunError naming it otherwise."""
    try:
        value = read_json(path, JSON_LIMIT)
    except FileError as e:
        if e.missing:
            return None
        raise RunError(str(e)) from None
    except ValueError as e:
        raise RunError(f"{path}: not JSON ({e})") from None
    if not isinstance(value, dict):
        raise RunError(f"{path}: not a JSON object")
    return value


def hash_of(run: Run) -> str | None:
    """The run's config hash as its provenance.json records it (src/config.cpp config_hash, 16 hex digits), or
    None for a run from before provenance.json: its checkpoints carry a hash of the older rule (docs/method.md
    §8, "The configuration hash"), which no current run can share, so it is not computed here."""
    recorded = (run.provenance or {}).get("config_hash")
    return recorded if isinstance(recorded, str) else None


def load_runs(directories: list[str]) -> list[Run]:
    """The runs, labelled by their directory names (with their parents when two names are the same)."""
    paths = [Path(d) for d in directories]
    names = [p.resolve().name for p in paths]
    labels = [str(p) if names.count(n) > 1 else n for p, n in zip(paths, names)]
    return [load_run(p, label) for p, label in zip(paths, labels)]


# --- text ------------------------------------------------------------------------------------------------------

def targets_of(times: Any) -> list[tuple[str, Any]]:
    """A summary.json map of targets to the training seconds they were reached, largest target first."""
    if not isinstance(times, dict):
        return []
    def size(key):
        try:
            return -float(key)
        except ValueError:
            return 0.0
    return sorted(times.items(), key=lambda item: size(item[0]))


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def engine_of(run: Run) -> str:
    """summary.json's engine; while a run goes on, its process's command says it."""
    if run.summary:
        return str(run.summary.get("engine", "?"))
    return {"train": "mpi", "simulate": "sim"}.get(run.command or "", "?")


def show_text(run: Run) -> str:
    s = run.summary or {}
    lines = [f"{run.dir}: {run.state_text}",
             f"  method {run.setting('run.method')}, engine {engine_of(run)}, {run.setting('run.workers')} workers, "
             f"seed {run.setting('run.seed')}, objective {run.setting('objective.kind')}"
             + (f", run id {s['run_id']}" if s.get("run_id") else "")]
    lines += provenance_lines(run)
    if s:
        train, wall, updates = s.get("train_time_s"), s.get("wall_time_s"), s.get("updates")
        rate = f" ({updates / train:.4g} per second of training)" if updates and train else ""
        lines.append(f"  training time {fmt(train)} s (wall {fmt(wall)} s, evaluating {fmt(s.get('eval_time_s'))} s), "
                     f"{fmt(updates)} updates{rate}, {fmt(s.get('arrivals'))} arrivals: "
                     + ", ".join(f"{fmt(s.get(c))} {c}" for c in COUNTERS))
        relative = (f" ({s['final_loss'] / s['initial_loss']:.3g} of the initial)"
                    if isinstance(s.get("final_loss"), (int, float)) and s.get("initial_loss") else "")
        lines.append(f"  loss: initial {fmt(s.get('initial_loss'))}, final {fmt(s.get('final_loss'))}, best "
                     f"{fmt(s.get('best_loss'))}{relative}")
        if s.get("final_accuracy") is not None:
            lines.append(f"  accuracy: final {fmt(s.get('final_accuracy'))}, best {fmt(s.get('best_accuracy'))}")
        for name, what in (("time_to_relative_target", "relative loss"), ("time_to_accuracy", "accuracy"),
                           ("time_to_target", "loss")):
            targets = targets_of(s.get(name))
            if targets:
                lines.append(f"  time to {what} " + ", ".join(f"{k}: {fmt(v)} s" if v is not None else f"{k}: not reached"
                                                              for k, v in targets))
    if run.eval:
        last = run.eval[-1]
        values = ", ".join(f"{c} {fmt(last[c])}" for c in EVAL_COLUMNS if last.get(c) is not None)
        lines.append(f"  eval.csv: {len(run.eval)} rows; the last at t = {fmt(last['time_s'])} s, k = {fmt(last['k'])}: "
                     f"{values}")
    else:
        lines.append("  eval.csv: no evaluation yet")
    if run.workers:
        accepted = [w.get("accepted") or 0.0 for w in run.workers]
        busy = [(w.get("busy_s") or 0.0) + (w.get("injected_s") or 0.0) for w in run.workers]
        lines.append(f"  workers.csv: accepted per worker min {fmt(min(accepted))}, median "
                     f"{fmt(statistics.median(accepted))}, max {fmt(max(accepted))}; busy + injected seconds min "
                     f"{fmt(min(busy))}, max {fmt(max(busy))}")
    return "\n".join(lines) + "\n"


def invocation_text(invocation: Any) -> str:
    """One start or resume of provenance.json: when, the command line, the binary, the hosts."""
    if not isinstance(invocation, dict):
        return "?"
    argv = invocation.get("argv") if isinstance(invocation.get("argv"), list) else []
    binary = invocation.get("binary") if isinstance(invocation.get("binary"), dict) else {}
    hosts = invocation.get("hosts") if isinstance(invocation.get("hosts"), list) else []
    where = ", ".join(f"{h.get('host')} (ranks {len(h['ranks'])})" if isinstance(h, dict) and isinstance(h.get("ranks"), list)
                      else str(h.get("host") if isinstance(h, dict) else h) for h in hosts)
    return (f"{invocation.get('time', '?')}: {' '.join(map(str, argv))} [ringmaster {binary.get('version', '?')} "
            f"commit {binary.get('commit', '?')} {binary.get('build_type', '?')}; on {where or '?'}]")


def provenance_lines(run: Run) -> list[str]:
    p = run.provenance
    if p is None:
        return ["  config hash unknown: no provenance.json (a run from before it was written)"]
    resumes = p.get("resumes") if isinstance(p.get("resumes"), list) else []
    lines = [f"  config hash {hash_of(run)}" + (f", name {p['name']}" if p.get("name") else ""),
             f"  started {invocation_text(p.get('start'))}" if p.get("start") else "  started before provenance.json"]
    lines += [f"  resumed {invocation_text(r)}" for r in resumes]
    return lines


def find_runs(directories: list[str], name: str | None, config: str | None, same_as: str | None,
              digest: str | None) -> str:
    """One line per run directory under `directories` that matches every filter given."""
    want_hash = digest.lower() if digest else None
    if same_as:
        want_hash = hash_of(load_run(same_as))
        if want_hash is None:
            raise RunError(f"{same_as}: no provenance.json, so no config hash to compare (a run from before it "
                           "was written)")
    want_config = os.path.realpath(config) if config else None
    lines = []
    for top in map(Path, directories):
        if not top.is_dir():
            raise RunError(f"{top}: not a directory (a directory of runs is expected)")
        for directory in sorted(d for d in top.iterdir() if d.is_dir() and (d / "config.toml").is_file()):
            try:
                run = load_run(directory)
            except RunError as e:
                lines.append(f"{directory}: cannot be read: {e}")
                continue
            p = run.provenance or {}
            start = p.get("start") if isinstance(p.get("start"), dict) else {}
            given = (start.get("config") or {}) if isinstance(start.get("config"), dict) else {}
            if name and name not in str(p.get("name") or directory.name):
                continue
            if want_config and os.path.realpath(str(given.get("absolute", ""))) != want_config:
                continue
            run_hash = hash_of(run)
            if want_hash and run_hash != want_hash:
                continue
            run_hash = run_hash or "(no hash)"
            lines.append(f"{directory}  {run_hash}  {engine_of(run)}  {run.state}  name {p.get('name') or '—'}  "
                         f"config {given.get('given', '—')}")
    return "".join(line + "\n" for line in lines) or "no run matches\n"


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_differences(runs: list[Run]) -> list[tuple[str, list[Any]]]:
    """(key, the value in each run; None where a run has no such key) for every key whose values differ."""
    flat = [flatten(r.config) for r in runs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    return [(k, [f.get(k) for f in flat]) for k in keys if len({repr(f.get(k)) for f in flat}) > 1]


def last_eval(run: Run, column: str) -> float | None:
    values = run.column(column)[2]
    return values[-1] if values else None


def compare_rows(runs: list[Run]) -> list[tuple[str, list[str]]]:
    """The table's rows: (what, a cell per run)."""
    def summary(key):
        return [fmt(r.summary.get(key)) if r.summary else "—" for r in runs]

    def per_second(r: Run):
        s = r.summary or {}
        return fmt(s["updates"] / s["train_time_s"]) if s.get("updates") and s.get("train_time_s") else "—"

    rows = [("state", [r.state for r in runs]), ("engine", [engine_of(r) for r in runs]),
            ("method", [fmt(r.setting("run.method")) for r in runs]),
            ("workers", [fmt(r.setting("run.workers")) for r in runs]),
            ("seed", [fmt(r.setting("run.seed")) for r in runs]), ("stop_reason", summary("stop_reason")),
            ("train_time_s", summary("train_time_s")), ("wall_time_s", summary("wall_time_s")),
            ("updates", summary("updates")), ("updates per training second", [per_second(r) for r in runs]),
            ("arrivals", summary("arrivals")), ("compute_s (sim: seconds per gradient)", summary("compute_s"))]
    rows += [(c, summary(c)) for c in COUNTERS]
    rows += [("initial_loss", summary("initial_loss")), ("final_loss", summary("final_loss")),
             ("best_loss", summary("best_loss"))]
    if any(r.column("accuracy")[2] for r in runs):
        rows += [("final_accuracy", summary("final_accuracy")), ("best_accuracy", summary("best_accuracy"))]
    rows += [(f"last eval.csv {c}", [fmt(last_eval(r, c)) for r in runs]) for c in ("time_s", "k", "loss")]
    targets = dict.fromkeys(k for r in runs if r.summary for k, _ in targets_of(r.summary.get("time_to_relative_target")))
    def reached(r: Run, t: str) -> str:
        times = dict(targets_of(r.summary.get("time_to_relative_target"))) if r.summary else {}
        return "—" if t not in times else "not reached" if times[t] is None else fmt(times[t])

    for t in targets:
        rows.append((f"time to relative loss {t} (s)", [reached(r, t) for r in runs]))
    return rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table whose columns are padded to one width, so that it also reads in a terminal."""
    table = [[str(cell).replace("|", "\\|") for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    line = lambda row: "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |"  # noqa: E731
    return "\n".join([line(table[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, table[1:])]) + "\n"


def compare_text(runs: list[Run]) -> str:
    out = markdown_table(["", *[r.label for r in runs]], [[what, *cells] for what, cells in compare_rows(runs)])
    differences = config_differences(runs)
    if differences:
        out += ("\nconfig.toml differences:\n\n"
                + markdown_table(["key", *[r.label for r in runs]],
                                 [[k, *[fmt(v) if v is not None else "(absent)" for v in values]]
                                  for k, values in differences]))
    else:
        out += "\nconfig.toml: the same configuration in every run\n"
    return out


# --- plots -------------------------------------------------------------------------------------------------------

def plot_runs(runs: list[Run], x: str, out: Path) -> Path:
    """One panel for the loss (eval.csv's loss solid, train_loss dashed in the same colour) and, when some run has
    it, one for accuracy, against training time or k: one colour per run. The loss axis is logarithmic when it
    spans more than 30× (a quadratic's f − f*), linear otherwise (a network's loss in nats)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = ["loss"] + (["accuracy"] if any(r.column("accuracy")[2] for r in runs) else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 4.4), squeeze=False)
    colors = plt.get_cmap("tab10")
    for panel, ax in zip(panels, axes[0]):
        positive, values = True, []
        for i, run in enumerate(runs):
            label = f"{run.label} ({engine_of(run)})"
            for column, style in ((panel, "-"), ("train_loss", "--") if panel == "loss" else (None, None)):
                if column is None:
                    continue
                times, ks, ys = run.column(column)
                if not ys:
                    continue
                ax.plot(times if x == "time" else ks, ys, style, color=colors(i % 10), lw=1.4,
                        label=label if column == panel else f"{run.label}: train_loss")
                finite = [y for y in ys if math.isfinite(y)]
                values += finite
                positive = positive and all(y > 0 for y in finite)
        if panel == "loss" and values and positive and max(values) > 30 * min(values):
            ax.set_yscale("log")
            readable_log_axis(ax)
        ax.set_xlabel("training time (s)" if x == "time" else "k (updates)")
        ax.set_ylabel({"loss": "loss (eval.csv; dashed: train_loss)", "accuracy": "test accuracy"}[panel])
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no evaluation yet", transform=ax.transAxes, ha="center")
    methods = sorted({str(r.setting("run.method")) for r in runs})
    fig.suptitle(f"{', '.join(r.label for r in runs)}: {' / '.join(methods)}, "
                 f"{'against training time' if x == 'time' else 'against updates'}", fontsize=10)
    fig.tight_layout()
    write_figure(fig, out)
    plt.close(fig)
    return out


# --- follow ------------------------------------------------------------------------------------------------------

def row_text(row: dict[str, float | None]) -> str:
    return f"t = {fmt(row['time_s'], 6)} s  k = {fmt(row['k'], 12)}  " + "  ".join(
        f"{c} {fmt(row[c], 6)}" for c in EVAL_COLUMNS if row.get(c) is not None)


def follow(directory: str, every: float, png: Path | None, out=sys.stdout) -> int:
    begin = time.time()
    shown = 0
    run = load_run(directory)
    print(run.state_text, file=out, flush=True)
    while True:
        for row in run.eval[shown:]:
            print(row_text(row), file=out, flush=True)
        if png is not None and len(run.eval) > shown:
            plot_runs([run], "time", png)
        shown = len(run.eval)
        summary_file = run.dir / "summary.json"
        done = run.state in ("finished", "stopped", "ended") or (
            run.state == "unknown" and summary_file.exists() and summary_file.stat().st_mtime >= begin)
        if done:
            run = load_run(directory)  # the rows and the summary of the end
            for row in run.eval[shown:]:
                print(row_text(row), file=out)
            print(show_text(run), end="", file=out, flush=True)
            return 0 if run.summary is not None else EXIT_FAILED
        time.sleep(every)
        run = load_run(directory)


# --- the command line -------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runs.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:3]))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("show", help="one run: what it is, how it ended, its numbers")
    p.add_argument("run")
    p = sub.add_parser("plot", help="loss and accuracy curves of one or several runs in one PNG")
    p.add_argument("runs", nargs="+")
    p.add_argument("--x", choices=("time", "k"), default="time", help="training time (default) or updates k")
    p.add_argument("--out", default="runs.png", help="the PNG to write (default runs.png)")
    p = sub.add_parser("compare", help="several runs side by side, and their config.toml differences")
    p.add_argument("runs", nargs="+")
    p = sub.add_parser("follow", help="a run's eval.csv rows as they come, until it ends")
    p.add_argument("run")
    p.add_argument("--every", type=float, default=2.0, help="seconds between looks (default 2)")
    p.add_argument("--out", help="also redraw this PNG as rows come")
    p = sub.add_parser("find", help="the runs under DIR (default runs/) by name, config file or config hash")
    p.add_argument("dirs", nargs="*", default=["runs"], metavar="DIR")
    p.add_argument("--name", help="runs whose --name (or directory name) contains TEXT")
    p.add_argument("--config", metavar="FILE", help="runs started with -c FILE (the same file, however named)")
    p.add_argument("--same-as", metavar="RUN", help="runs of RUN's experiment: the same config hash")
    p.add_argument("--hash", help="runs of this config hash (16 hex digits, as show prints it)")
    args = parser.parse_args(argv)
    try:
        if args.command in ("plot", "follow") and (args.command == "plot" or args.out):
            require_matplotlib()  # before reading anything
        if args.command == "show":
            print(show_text(load_run(args.run)), end="")
        elif args.command == "plot":
            print(plot_runs(load_runs(args.runs), args.x, Path(args.out)))
        elif args.command == "find":
            print(find_runs(args.dirs, args.name, args.config, args.same_as, args.hash), end="")
        elif args.command == "compare":
            print(compare_text(load_runs(args.runs)), end="")
        elif args.command == "follow":
            if not args.every > 0:
                raise RunError(f"--every must be a positive number of seconds, got {args.every}")
            return follow(args.run, args.every, Path(args.out) if args.out else None)
    except (RunError, MissingPlotLibrary) as e:
        print(f"runs: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except FileError as e:  # a PNG that cannot be written: the old one, if any, is still there
        print(f"runs: {e}", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `runs.py compare ... | head` ends quietly
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))  # Ctrl-C ends follow without a traceback
    sys.exit(main())
