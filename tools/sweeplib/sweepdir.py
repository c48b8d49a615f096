"""The sweep directory: whose it is, and the lock that keeps two sweeps out of one.

Whose: a sweep directory holds only what a sweep writes (ENTRIES) and, in sweep.toml, the copy of its spec
headed by the sweep's name. A command that writes into a directory first checks that it is absent, empty or
this sweep's: another sweep's directory (another name in its sweep.toml), or a directory of anything else
(files a sweep never writes), is refused before a byte is written into it. Changing a spec and running it
again into its own directory is what skip-finished is for (docs/sweeps.md), so the copy's name decides, not
its text.

The lock: sweep.lock, flock(2)ed for as long as the command runs. Commands that delete runs or write the
sweep's files (run, check, tune, aggregate, plot, report) take it exclusively and write their pid, host and
command into it; `point` (one run, a Slurm array task beside its sibling tasks) and `slurm` (which submits
them) take it shared. A command that cannot take it exits 2 naming the directory and the holder. The lock is
released when the process ends, however it ends; the file stays (removing it would let two processes lock
two different files of one name).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import stat
import tomllib
from pathlib import Path
from typing import Iterator

from .files import SPEC_LIMIT, FileError, read_text, write_text
from .spec import Spec, SpecError

SPEC_COPY = "sweep.toml"
LOCK = "sweep.lock"
ENTRIES = frozenset({SPEC_COPY, LOCK, "tune", "runs", "tuned.json", "report", "logs", "slurm-jobs.json"})
TEMPORARY = re.compile(r"\..*\.[0-9a-f]{12}\.tmp")  # file_policy.write_atomic's, left by a crash
# The first line of sweep.toml: the sweep's name, as JSON (any name is one line so).
HEADER = re.compile(r'# tools/sweep\.py: the spec of sweep ("(?:[^"\\]|\\.)*")')
HOLDER_LIMIT = 4096


def copy_header(spec: Spec) -> str:
    """sweep.toml's first line, a TOML comment: the sweep's name (what HEADER reads) and the spec's path."""
    return (f"# tools/sweep.py: the spec of sweep {json.dumps(spec.name)}, from {json.dumps(str(spec.path))}, "
            "as last run\n")


def copy_owner(path: Path, spec: Spec) -> str | None:
    """The name of the sweep whose copy of its spec `path` is: its header's, or for a copy written before
    there were headers, its sweep.name, or this sweep's if it is this spec's text; None if it names none."""
    try:
        text = read_text(path, SPEC_LIMIT)
    except FileError as e:
        raise SpecError(f"{path}: {e.reason}") from None
    if (header := HEADER.match(text)) is not None:
        return json.loads(header.group(1))
    if text == spec.text:
        return spec.name
    try:
        name = tomllib.loads(text).get("sweep", {}).get("name")
    except (tomllib.TOMLDecodeError, RecursionError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def check_owner(spec: Spec, directory: Path) -> None:
    """SpecError unless `directory` is absent, empty or this sweep's (module docstring)."""
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return
    except OSError as e:
        raise SpecError(f"{directory}: cannot be used as the sweep directory: {e.strerror}") from None
    foreign = sorted(e for e in entries if e not in ENTRIES and not TEMPORARY.fullmatch(e))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise SpecError(f"{directory}: not a sweep directory (it holds {shown}); give --dir a new or empty "
                        "directory, or this sweep's")
    if SPEC_COPY in entries:
        owner = copy_owner(directory / SPEC_COPY, spec)
        if owner != spec.name:
            whose = f"sweep {owner!r}" if owner is not None else "another sweep"
            raise SpecError(f"{directory}: the directory of {whose} ({SPEC_COPY}), not of {spec.name!r}; give "
                            "--dir a new or empty directory, or this sweep's")


def write_spec_copy(spec: Spec, directory: Path) -> None:
    """sweep.toml: the spec as run, headed by the sweep's name (what check_owner reads)."""
    write_text(directory / SPEC_COPY, copy_header(spec) + spec.text)


def holder(fd: int) -> str:
    """Who holds the lock exclusively, as it wrote itself into the lock file."""
    try:
        record = json.loads(os.pread(fd, HOLDER_LIMIT, 0).decode())
        return f"pid {int(record['pid'])} on {record['host']}, `sweep.py {record['command']}`"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


@contextlib.contextmanager
def claimed(spec: Spec, directory: Path, command: str, shared: bool = False) -> Iterator[None]:
    """The sweep directory, checked (check_owner), created if absent, and locked for the block: exclusively,
    or shared with other `point` and `slurm` commands (module docstring). sweep.toml is written if absent."""
    check_owner(spec, directory)  # before anything is created in it
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a symlink planted as sweep.lock is refused, never followed and truncated
        fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    except OSError as e:
        raise SpecError(f"{e.filename}: cannot be used as the sweep directory: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SpecError(f"{directory / LOCK}: is not a regular file")
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            if not shared and try_shared(fd):
                raise SpecError(f"{directory}: in use by running points of a sweep (`sweep.py point`, e.g. Slurm "
                                "array tasks); wait for them to end, or give another --dir") from None
            raise SpecError(f"{directory}: in use by another sweep ({holder(fd)}); wait for it to end, or give "
                            "another --dir") from None
        if not shared:  # who holds it, for the message of the next one (a failure to say so is no failure)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                          "command": command}).encode(), 0)
        check_owner(spec, directory)  # again under the lock: another sweep may have claimed it meanwhile
        if not (directory / SPEC_COPY).exists():
            write_spec_copy(spec, directory)
        yield
    finally:
        os.close(fd)


def try_shared(fd: int) -> bool:
    """Whether the lock's holders hold it shared (then this takes a shared lock too, released with fd)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
