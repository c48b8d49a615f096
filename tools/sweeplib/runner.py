"""Running points: the ringmaster command line for a point, one point, and a whole phase locally."""
from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .files import LOG_TAIL, FileError, read_regular, write_text
from .spec import EXIT_BAD_INPUT, REPO, Spec
from .points import Point, format_value, point_dir
from .rundir import is_finished, point_record
from .tuning import phase_points


def resolved_workers(spec: Spec, point: Point) -> int:
    workers = None
    for k, v in point.overrides:
        if k == "run.workers":
            workers = v
    if workers is None:
        workers = spec.base.get("run", {}).get("workers", 8)
    return int(workers)


def sim_threads(jobs: int) -> int | None:
    """LMO threads per simulation when `jobs` run side by side: the cores this process may use, shared
    out (sim.threads; results do not depend on it). None for one job at a time: the simulator's own
    default, every core."""
    if jobs <= 1:
        return None
    return max(1, len(os.sched_getaffinity(0)) // jobs)


def run_command(spec: Spec, point: Point, directory: Path, binary: str, launcher: str,
                threads: int | None = None) -> list[str]:
    sets = []
    for k, v in point.overrides:
        sets += ["--set", f"{k}={format_value(v)}"]
    tail = ["-c", str(spec.config), *sets, "--out", str(directory), "--force"]
    if spec.engine == "simulate":
        if threads is not None and not any(k == "sim.threads" for k, _ in point.overrides):
            tail[2:2] = ["--set", f"sim.threads={threads}"]
        return [binary, "simulate", *tail]
    ranks = str(resolved_workers(spec, point) + 1)  # rank 0 serves, ranks 1..N work (docs/method.md §1)
    if launcher == "srun":
        return ["srun", "--mpi=pmix", "--overcommit", "-n", ranks, binary, "train", *tail]
    return ["mpirun", "--oversubscribe", "-np", ranks, binary, "train", *tail]


def default_binary() -> str:
    return os.environ.get("RINGMASTER_BIN") or str(REPO / "build" / "ringmaster")


def run_point(spec: Spec, point: Point, sweep_dir: Path, binary: str, launcher: str,
              force: bool = False, threads: int | None = None) -> tuple[str, int, float]:
    """Runs one point unless it is finished. Returns (status, exit code, wall seconds) with status
    "skipped", "done" or "failed". The run's output goes to run.log in its directory."""
    directory = point_dir(sweep_dir, point)
    if not force and is_finished(spec, point, directory):
        return "skipped", 0, 0.0
    if directory.exists():
        shutil.rmtree(directory)  # unfinished or stale: start over
    directory.mkdir(parents=True)
    write_text(directory / "point.json", json.dumps(point_record(spec, point), indent=2) + "\n")
    command = run_command(spec, point, directory, binary, launcher, threads)
    env = dict(os.environ)
    if spec.engine == "train" and os.geteuid() == 0:
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    begin = time.monotonic()
    # run.log is the run's output as it comes (a stream, not a file written whole); the tool's own lines in
    # it are checked like every other write
    log_file = directory / "run.log"
    try:
        with open(log_file, "w") as log:
            log.write("$ " + " ".join(command) + "\n")
            log.flush()
            try:
                code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
            except OSError as e:  # no such binary, not executable
                log.write(f"cannot start: {e}\n")
                code = 127
    except OSError as e:
        raise FileError(log_file, f"cannot be written: {e.strerror}") from None
    seconds = time.monotonic() - begin
    if code == 0 and not (directory / "summary.json").is_file():
        code = 1  # exited cleanly but wrote no result
    write_text(directory / "status.json", json.dumps({"exit_code": code, "seconds": round(seconds, 3)}) + "\n")
    return ("done" if code == 0 else "failed"), code, seconds


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def run_phase(spec: Spec, phase: str, sweep_dir: Path, binary: str, launcher: str, jobs: int,
              out=None) -> list[Point]:
    """Runs every unfinished point of a phase, `jobs` at a time, with one progress line per point:
    done / total, elapsed, ETA (from the points run so far; skipped ones cost nothing). Returns the
    points that failed. A run that exits 2 (bad input) stops the phase: every point would fail alike."""
    out = out or sys.stderr
    points = phase_points(spec, phase, sweep_dir)
    total = len(points)
    todo = [p for p in points if not is_finished(spec, p, point_dir(sweep_dir, p))]
    skipped = total - len(todo)
    print(f"{phase}: {total} points, {skipped} already finished, {len(todo)} to run", file=out, flush=True)
    failed: list[Point] = []
    begin = time.monotonic()
    done = 0
    bad_input = False
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending = {}
        queue = list(todo)

        def submit_next() -> None:
            if queue and not bad_input:
                p = queue.pop(0)
                pending[pool.submit(run_point, spec, p, sweep_dir, binary, launcher, False, sim_threads(jobs))] = p

        for _ in range(max(1, jobs)):
            submit_next()
        while pending:
            finished, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                p = pending.pop(future)
                status, code, seconds = future.result()
                done += 1
                elapsed = time.monotonic() - begin
                eta = elapsed / done * (len(todo) - done)
                note = f"{seconds:.1f}s" if status != "failed" else f"FAILED (exit {code}; see run.log)"
                print(f"[{skipped + done}/{total}] {phase} {p.name}  {note}  elapsed {format_duration(elapsed)}"
                      f"  ETA {format_duration(eta)}", file=out, flush=True)
                if status == "failed":
                    failed.append(p)
                    if code == EXIT_BAD_INPUT:
                        bad_input = True
                        print(f"{phase}: the run rejected its input (exit 2); stopping. "
                              f"{point_dir(sweep_dir, p) / 'run.log'}:", file=out)
                        print(tail_text(point_dir(sweep_dir, p) / "run.log"), file=out, flush=True)
                submit_next()
    return failed


def tail_text(path: Path, lines: int = 5) -> str:
    """The last lines of a run.log (of its last LOG_TAIL bytes); "" if it cannot be read."""
    try:
        return "\n".join(read_regular(path, LOG_TAIL, tail=True).decode(errors="replace").splitlines()[-lines:])
    except FileError:
        return ""
