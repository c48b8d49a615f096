"""The sweep tool's reading and writing: tools/file_policy.py's policy (regular files only, bounded reads,
atomic writes) with the bounds of the files a sweep reads.

A reader gets FileError for a file it cannot read (missing, not a regular file, larger than its bound) and
decides what that means: a bad spec or base config is bad input (SpecError, exit 2); a run's summary.json that
cannot be read is a run that has not finished. A writer's FileError is a runtime failure (exit 1, naming the
file); the old file, if any, is still there.
"""
from __future__ import annotations

import csv
import io
import json
import os
from typing import Any

# tools/file_policy.py: tools/ is on the path wherever sweeplib is (it is what makes `import sweeplib` work)
from file_policy import FileError, read_regular, write_atomic  # noqa: F401  (FileError: for the callers)

SPEC_LIMIT = 1 << 20  # a sweep spec, and a base run configuration: the binary's bound on a config file
JSON_LIMIT = 64 << 20  # point.json, status.json, summary.json, tuned.json (the regime sweep's: 3 MB)
TABLE_LIMIT = 256 << 20  # a run's eval.csv, a report's CSV: the binary's bound on a trace (a delays.csv)
LOG_TAIL = 64 << 10  # what is read of a run.log to quote its last lines


def read_text(path: str | os.PathLike, limit: int) -> str:
    """The file's text (UTF-8; undecodable bytes replaced), under the reader policy."""
    return read_regular(path, limit).decode("utf-8", errors="replace")


def read_json(path: str | os.PathLike, limit: int = JSON_LIMIT) -> Any:
    """The file's JSON. FileError for a file the policy refuses, ValueError for one that is not JSON
    (nesting too deep for the decoder included)."""
    text = read_text(path, limit)
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply") from None


def read_csv(path: str | os.PathLike, limit: int = TABLE_LIMIT) -> list[dict[str, str]]:
    """The rows of a CSV file the binary writes (docs/formats.md: a header line, fields never quoted, an empty
    field for "none") as dicts by column, whole rows only: a last line without its newline — a row a live run
    is still writing — is left out. FileError as read_regular."""
    lines = read_text(path, limit).split("\n")[:-1]  # what follows the last newline is not a whole row
    return list(csv.DictReader(lines))


def write_text(path: str | os.PathLike, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


def write_figure(fig, path: str | os.PathLike) -> None:
    """A matplotlib figure as a PNG, rendered in memory and written atomically (never a torn PNG)."""
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    write_atomic(path, png.getvalue())
