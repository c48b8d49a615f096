#!/usr/bin/python3
"""Sweeps of Ringmaster runs: grids over configuration keys, per-method tuning, local or Slurm
execution, aggregation into tables, and plots.

A sweep spec (TOML, configs/sweeps/) names a base configuration, overrides applied to every run, a grid
of axes (typically method × heterogeneity power p × seed) and, optionally, per-method hyperparameter
grids. Tuning: for each method (and each value of the `tune.per` axes) every hyperparameter combination
runs on the tuning seeds (three by default); the candidates whose mean over the runs of
log10(final_loss / initial_loss) is within noise of the lowest are ties, the first of them in grid order
is chosen, and the comparison runs use it (`tune.protocol = "time-to-target"`: the candidates that
reach `tune.target` soonest instead; docs/sweeps.md).

Every run ("point") has its own run directory (docs/method.md §8) inside one sweep directory:

    <sweep>/tune/<name>/         tuning runs            <sweep>/runs/<name>/   comparison runs
    <sweep>/tuned.json           the chosen values      <sweep>/report/        tables and plots
    <sweep>/logs/                Slurm output and error files, one pair per task

A point is finished when its summary.json exists and its point.json (written before the run starts:
the exact overrides, base config and its hash) matches what the spec asks for now. Re-running a sweep
skips finished points; unfinished or stale ones are run again from scratch. Two distinct points never
share a directory (names.py). A sweep directory holds one sweep (its sweep.toml names it), and one
command that changes it at a time (sweep.lock; a second one exits 2 naming the first): sweepdir.py.
Every file the tool writes is replaced whole or not at all, and every file it reads must be a regular
file of bounded size (tools/file_policy.py).

Commands (docs: README "Sweeps and Slurm"):
    sweep.py run SPEC [--jobs J]      every phase locally: tune, choose, compare, aggregate, plot
    sweep.py list SPEC [--phase P]    the points with their index and status
    sweep.py count SPEC --phase P     how many points a phase has (for job arrays)
    sweep.py point SPEC --phase P N   run point N of a phase (what a Slurm array task does)
    sweep.py tune SPEC                choose the tuned values from finished tuning runs
    sweep.py aggregate SPEC           tables (CSV, Markdown) from finished comparison runs
    sweep.py plot SPEC                loss vs time and speedup plots (PNG)
    sweep.py report SPEC [--publish D] aggregate and plot (and copy the report to D)
    sweep.py slurm SPEC               submit the whole chain as Slurm job arrays with dependencies
    sweep.py check SPEC --published D regenerate (as run) and compare with published results D: exit 1
                                      when a conclusion changed beyond the spec's [check] tolerances

The code lives in tools/sweeplib/, one concern a module: spec (the TOML spec), names (a point's
directory name), points (the runs it asks for), rundir (what a finished run left), runner (running
points), tuning (the choice), report (tables), plots, slurm, check (a regeneration against published
results), sweepdir (the directory's owner and lock), files (the bounds of what a sweep reads). Only
Python's standard library is used, plus Debian's python3-matplotlib (and numpy) for the plots. Run it
with Debian's /usr/bin/python3, which has them.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sweeplib.check import check  # noqa: E402
from sweeplib.files import FileError  # noqa: E402
from sweeplib.plots import MissingPlotLibrary, plot, require_matplotlib  # noqa: E402
from sweeplib.points import compare_points, needs_tuning, point_dir, tune_points  # noqa: E402
from sweeplib.report import aggregate, publish  # noqa: E402
from sweeplib.rundir import failed_exit_code, is_finished  # noqa: E402
from sweeplib.runner import default_binary, format_duration, run_phase, run_point, tail_text  # noqa: E402
from sweeplib.slurm import slurm_submit  # noqa: E402
from sweeplib.spec import EXIT_BAD_INPUT, PHASES, REPO, Spec, SpecError, load_spec  # noqa: E402
from sweeplib.sweepdir import claimed, write_spec_copy  # noqa: E402
from sweeplib.tuning import phase_points, write_tuned  # noqa: E402


def sweep_dir_of(spec: Spec, given: str | None) -> Path:
    return Path(given).resolve() if given else (REPO / "sweeps" / spec.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sweep.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("spec", help="sweep spec (TOML), e.g. configs/sweeps/headline.toml")
        p.add_argument("--dir", help="sweep directory (default: sweeps/<name> in the repository)")
        return p

    def add_run_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--binary", default=None, help="ringmaster binary (default $RINGMASTER_BIN or build/ringmaster)")
        p.add_argument("--launcher", choices=("mpirun", "srun"), default=None,
                       help="MPI launcher for engine = train (default $RINGMASTER_LAUNCHER or mpirun)")

    p = add("run", "run every phase locally: tuning runs, choice, comparison runs, report, plots")
    add_run_options(p)
    p.add_argument("--jobs", "-j", type=int, default=1, help="runs at a time (default 1: sequential)")
    p.add_argument("--publish", help="also copy the report to this directory (e.g. docs/results)")
    p = add("list", "the points of each phase, with index and status")
    p.add_argument("--phase", choices=PHASES)
    p = add("count", "how many points a phase has")
    p.add_argument("--phase", choices=PHASES, required=True)
    p = add("point", "run one point of a phase by index (a Slurm array task)")
    add_run_options(p)
    p.add_argument("--phase", choices=PHASES, required=True)
    p.add_argument("index", type=int)
    p.add_argument("--force", action="store_true", help="run it even if it already finished")
    add("tune", "choose each method's hyperparameters from the finished tuning runs (writes tuned.json)")
    add("aggregate", "tables from the finished comparison runs (report/<name>.csv, .md)")
    p = add("plot", "plots from the finished comparison runs (report/<name>-*.png)")
    p = add("report", "aggregate and plot")
    p.add_argument("--publish", help="also copy the report to this directory")
    p = add("check", "regenerate the sweep (as run, into --dir) and compare its conclusions with published "
                     "results, within the spec's [check] tolerances; exit 1 if one changed")
    add_run_options(p)
    p.add_argument("--jobs", "-j", type=int, default=1, help="runs at a time (default 1: sequential)")
    p.add_argument("--published", required=True, help="directory of the published results (e.g. docs/results)")
    p.add_argument("--no-run", action="store_true",
                   help="compare what the sweep directory holds; run nothing (it must be complete)")
    p = add("slurm", "submit the sweep as Slurm job arrays with dependencies")
    add_run_options(p)
    p.add_argument("--max-parallel", type=int, help="array tasks running at once (sbatch --array=...%%N)")
    p.add_argument("--max-array-size", type=int, default=1000, help="split larger phases (site MaxArraySize)")
    p.add_argument("--dry-run", action="store_true", help="print the sbatch commands, submit nothing")
    p.add_argument("--sbatch", action="append", default=[], metavar="OPTION",
                   help="extra sbatch option for every job, e.g. --sbatch=--partition=gpu")

    args = parser.parse_args(argv)
    try:
        spec = load_spec(args.spec)
        sweep_dir = sweep_dir_of(spec, args.dir)
        binary = getattr(args, "binary", None) or default_binary()
        launcher = getattr(args, "launcher", None) or os.environ.get("RINGMASTER_LAUNCHER") or "mpirun"
        if args.command == "run":
            return command_run(spec, sweep_dir, binary, launcher, args.jobs, args.publish)
        if args.command == "check":
            if not args.no_run:
                code = command_run(spec, sweep_dir, binary, launcher, args.jobs, None, plots=False)
                if code != 0:
                    print(f"check: the regeneration did not complete (exit {code}); nothing compared", file=sys.stderr)
                    return code
            else:
                with claimed(spec, sweep_dir, "check"):
                    aggregate(spec, sweep_dir)
            return check(spec, sweep_dir, Path(args.published), sys.stdout)
        if args.command == "list":
            for phase in ([args.phase] if args.phase else PHASES):
                if phase == "compare" and needs_tuning(spec) and not (sweep_dir / "tuned.json").is_file():
                    points = compare_points(spec)
                    print(f"# compare: {len(points)} points (hyperparameters not chosen yet)")
                else:
                    points = phase_points(spec, phase, sweep_dir)
                    print(f"# {phase}: {len(points)} points")
                for pt in points:
                    done = is_finished(spec, pt, point_dir(sweep_dir, pt)) and (
                        phase == "tune" or not needs_tuning(spec) or (sweep_dir / "tuned.json").is_file())
                    print(f"{pt.index}\t{'done' if done else 'pending'}\t{pt.name}")
            return 0
        if args.command == "count":
            print(len(tune_points(spec) if args.phase == "tune" else compare_points(spec)))
            return 0
        if args.command == "point":
            points = phase_points(spec, args.phase, sweep_dir)
            if not 0 <= args.index < len(points):
                raise SpecError(f"point {args.index}: the {args.phase} phase has points 0..{len(points) - 1}")
            pt = points[args.index]
            with claimed(spec, sweep_dir, "point", shared=True):  # beside the other points of a Slurm array
                status, code, seconds = run_point(spec, pt, sweep_dir, binary, launcher, force=args.force)
            print(f"{args.phase} {args.index} {pt.name}: {status}"
                  + (f" in {seconds:.1f}s" if status != "skipped" else " (already finished)")
                  + (f", exit {code}; {point_dir(sweep_dir, pt) / 'run.log'}:\n"
                     + tail_text(point_dir(sweep_dir, pt) / 'run.log') if status == "failed" else ""))
            return code
        if args.command == "tune":
            if not needs_tuning(spec):
                print("tune: the spec has nothing to tune")
                return 0
            with claimed(spec, sweep_dir, "tune"):
                print_choices(write_tuned(spec, sweep_dir), sys.stdout)
            return 0
        if args.command in ("aggregate", "plot", "report"):
            if args.command != "aggregate":
                require_matplotlib()
            with claimed(spec, sweep_dir, args.command):
                if args.command != "plot":
                    aggregate(spec, sweep_dir)
                if args.command != "aggregate":
                    plot(spec, sweep_dir)
                if args.command == "report" and args.publish:
                    publish(spec, sweep_dir, Path(args.publish))
            return 0
        if args.command == "slurm":
            slurm_launcher = args.launcher or os.environ.get("RINGMASTER_LAUNCHER") or "srun"
            # shared: the array tasks it submits may start (and take it shared) before it returns
            with claimed(spec, sweep_dir, "slurm", shared=True):
                write_spec_copy(spec, sweep_dir)
                slurm_submit(spec, sweep_dir, str(Path(binary).resolve()), slurm_launcher, args.max_parallel,
                             args.max_array_size, args.sbatch, args.dry_run)
            return 0
    except (SpecError, MissingPlotLibrary) as e:
        print(f"sweep: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except FileError as e:  # a file the sweep writes (a full disk, a missing directory): the old one is kept
        print(f"sweep: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # a run directory that cannot be made or removed
        print(f"sweep: {e.filename}: {e.strerror}", file=sys.stderr)
        return 1
    return 1


def print_choices(choices: dict, out=None) -> None:
    out = out or sys.stderr
    for g in choices.values():
        failed = sum(len(c["failed"]) for c in g["candidates"])
        if "time_mean" in g:  # the time-to-target protocol
            statistic = (f"time {g['time_mean']:.3g} s" if g["reached_every_run"] else
                         f"time ≥ {g['time_mean']:.3g} s, reached in {g['reached']}/{g['runs']} runs")
        else:
            statistic = f"score {g['score']:.3g} ×/÷ {g['spread']:.3g}"
        print(f"tuned {json.dumps(g['group'])}: {json.dumps(g['chosen'])} ({statistic}"
              + (f"; {len(g['ties'])} within noise" if g["ties"] else "")
              + (f"; {failed} failed runs scored +inf" if failed else "") + ")", file=out)


def command_run(spec: Spec, sweep_dir: Path, binary: str, launcher: str, jobs: int, publish_to: str | None,
                plots: bool = True) -> int:
    if not Path(binary).is_file():
        raise SpecError(f"ringmaster binary {binary} not found (build it, or pass --binary / set RINGMASTER_BIN)")
    if plots:
        require_matplotlib()  # before the first run, not after the last
    if spec.engine == "train" and jobs > 1:
        print("sweep: warning: --jobs > 1 with engine = train runs MPI jobs side by side; their wall-clock "
              "times then depend on each other", file=sys.stderr)
    with claimed(spec, sweep_dir, "run"):
        write_spec_copy(spec, sweep_dir)
        return run_phases(spec, sweep_dir, binary, launcher, jobs, publish_to, plots)


def run_phases(spec: Spec, sweep_dir: Path, binary: str, launcher: str, jobs: int, publish_to: str | None,
               plots: bool) -> int:
    """command_run's work, in the claimed sweep directory. Exit code 0 only if every comparison run finished."""
    begin = time.monotonic()
    if needs_tuning(spec):
        failed = run_phase(spec, "tune", sweep_dir, binary, launcher, jobs)
        if any(failed_exit_code(spec, p, point_dir(sweep_dir, p)) == EXIT_BAD_INPUT for p in failed):
            return EXIT_BAD_INPUT  # the spec asks for something the binary rejects: nothing to choose from
        if failed:
            # e.g. a stepsize so large that the run diverged and the binary gave up: a bad candidate
            print(f"sweep: {len(failed)} tuning runs failed; they score +inf (see their run.log): "
                  + ", ".join(p.name for p in failed[:5]) + (" ..." if len(failed) > 5 else ""), file=sys.stderr)
        print_choices(write_tuned(spec, sweep_dir))
    run_phase(spec, "compare", sweep_dir, binary, launcher, jobs)
    report = aggregate(spec, sweep_dir)
    if plots:
        plot(spec, sweep_dir)
    if publish_to:
        publish(spec, sweep_dir, Path(publish_to))
    print(f"sweep {spec.name}: {format_duration(time.monotonic() - begin)} in total; report in {report}",
          file=sys.stderr)
    # failed, or gone since they finished: either way the report lacks them (and said which)
    missing = [p for p in phase_points(spec, "compare", sweep_dir) if not is_finished(spec, p, point_dir(sweep_dir, p))]
    if missing:
        print(f"sweep {spec.name}: {len(missing)} of the comparison runs did not finish; exit 1", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `sweep.py list ... | head` ends quietly
    sys.exit(main())
