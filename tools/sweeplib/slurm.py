"""Slurm submission: the sweep as job arrays (one point per task) chained by dependencies.

    [tuning array(s) → choose step] → comparison array(s) → report step

The job scripts are jobs/sweep-array.sbatch (a point) and jobs/aggregate.sbatch (the steps); site
settings (partition, account, time limit) come from jobs/slurm.env, the one place to edit them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .files import SPEC_LIMIT, FileError, read_text, write_text
from .spec import REPO, Spec, SpecError
from .points import Point, compare_points, needs_tuning, tune_points
from .runner import resolved_workers


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (comments and blanks skipped): the site's SBATCH_* defaults (jobs/slurm.env)."""
    env: dict[str, str] = {}
    try:
        text = read_text(path, SPEC_LIMIT)
    except FileError as e:
        if e.missing:
            return env
        raise SpecError(str(e)) from None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise SpecError(f"{path}:{number}: expected KEY=VALUE")
        env[key.strip()] = value.strip().strip('"').strip("'")
    return env


def sbatch(args: list[str], env: dict[str, str], dry_run: bool, log: list[str], name: str) -> str:
    """Submits one job and returns its id; in a dry run submits nothing and returns `<name>`, a placeholder that
    the dependencies of the later commands name instead of an id no job has."""
    command = ["sbatch", "--parsable", *args]
    log.append(" ".join(command))
    if dry_run:
        return f"<{name}>"
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"sbatch failed ({result.returncode}): {result.stderr.strip()}\n$ {' '.join(command)}")
    return result.stdout.strip().split(";")[0]


def slurm_submit(spec: Spec, sweep_dir: Path, binary: str, launcher: str, max_parallel: int | None,
                 max_array: int, extra: list[str], dry_run: bool, out=None) -> dict[str, Any]:
    """Submits the sweep as a chain of jobs: [tuning array → choose] → comparison array → report. Each
    array task runs one point (jobs/sweep-array.sbatch); a phase larger than max_array is split into
    several arrays. Returns (and writes to <sweep>/slurm-jobs.json) the job ids."""
    out = out or sys.stdout
    # The report job plots with Debian's /usr/bin/python3 on a compute node (jobs/aggregate.sbatch): a login
    # node whose own lacks matplotlib is a warning that the chain may fail at its last step.
    probe = subprocess.run(["/usr/bin/python3", "-c", "import matplotlib, numpy"], capture_output=True)
    if probe.returncode != 0:
        print("sweep: warning: /usr/bin/python3 here cannot import matplotlib and numpy, which the report job "
              "(jobs/aggregate.sbatch) needs on the compute node: install python3-matplotlib there", file=sys.stderr)
    jobs_dir = REPO / "jobs"
    logs = sweep_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(read_env_file(jobs_dir / "slurm.env"))
    env.update({"RINGMASTER_ROOT": str(REPO), "RINGMASTER_BIN": binary, "RINGMASTER_LAUNCHER": launcher})
    common = [*extra, f"--chdir={REPO}"]
    submitted: dict[str, Any] = {"sweep_dir": str(sweep_dir), "commands": []}
    log: list[str] = submitted["commands"]
    spec_arg, dir_arg = str(spec.path), str(sweep_dir)

    def arrays(phase: str, points: list[Point], dependency: str | None) -> list[str]:
        ntasks = 1 if spec.engine == "simulate" else max(resolved_workers(spec, p) + 1 for p in points)
        ids = []
        for offset in range(0, len(points), max_array):
            count = min(max_array, len(points) - offset)
            array = f"0-{count - 1}" + (f"%{max_parallel}" if max_parallel else "")
            args = [*common, f"--array={array}", f"--ntasks={ntasks}", f"--job-name=rm-{spec.name}-{phase}",
                    f"--output={logs}/{phase}-%A_%a.out", f"--error={logs}/{phase}-%A_%a.err"]
            if ntasks > 1:
                args.append("--overcommit")  # N+1 ranks that mostly wait: more tasks than cores is fine
            if dependency:
                args.append(f"--dependency={dependency}")
            env["SWEEP_OFFSET"] = str(offset)
            name = phase if len(points) <= max_array else f"{phase} {offset // max_array + 1}"
            ids.append(sbatch([*args, str(jobs_dir / "sweep-array.sbatch"), spec_arg, phase, dir_arg], env,
                              dry_run, log, f"{name} array"))
        env.pop("SWEEP_OFFSET", None)
        return ids

    def step(what: str, after: list[str], kind: str) -> str:
        label = "choose" if what == "tune" else what
        args = [*common, f"--job-name=rm-{spec.name}-{label}", f"--output={logs}/{label}-%j.out",
                f"--error={logs}/{label}-%j.err"]
        if after:
            args.append(f"--dependency={kind}:" + ":".join(after))
        return sbatch([*args, str(jobs_dir / "aggregate.sbatch"), spec_arg, what, dir_arg], env, dry_run, log,
                      f"{label} job")

    dependency = None
    if needs_tuning(spec):
        tune = tune_points(spec)
        submitted["tune"] = arrays("tune", tune, None)
        # afterany: the choose step itself fails, naming them, if any tuning run failed
        submitted["choose"] = step("tune", submitted["tune"], "afterany")
        dependency = f"afterok:{submitted['choose']}"
    compare = compare_points(spec)
    submitted["compare"] = arrays("compare", compare, dependency)
    # afterany: a partial sweep still gets a (partial, marked incomplete) report
    submitted["report"] = step("report", submitted["compare"], "afterany")
    if not dry_run:
        write_text(sweep_dir / "slurm-jobs.json", json.dumps(submitted, indent=2) + "\n")
    for line in log:
        print(("(dry run) " if dry_run else "") + line, file=out)
    if dry_run:
        print(f"dry run: nothing submitted ({len(log)} jobs); <...> stands for the id sbatch would return", file=out)
        return submitted
    summary = ", ".join(f"{k} {v}" for k, v in submitted.items() if k not in ("commands", "sweep_dir"))
    print(f"submitted: {summary}; logs in {logs}", file=out)
    return submitted
