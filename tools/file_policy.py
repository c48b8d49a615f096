"""How the Python tools read and write files: one policy for tools/sweep.py (and tools/sweeplib/) and
tools/gpt_checkpoint.py, the binary's own (docs/method.md §10).

read_regular: regular files only, bounded. The open is non-blocking, so a FIFO without a writer cannot
hang the tool, and the type is checked on the open descriptor (fstat), so what is read is what was
checked: a FIFO, a device (a symlink to /dev/zero) or a directory is refused without reading a byte. A
file larger than the caller's bound is refused from its size before anything is allocated, and no more
than the bound is ever read (a file that grows while it is read is refused too).

write_atomic: every file a tool writes goes to a temporary file in the same directory, is written,
fsynced and renamed over the target, and the directory is fsynced: a reader, or the next run after a
crash or a full disk, finds the old file or the new one, never an empty or a torn one. A failure removes
the temporary file and raises FileError naming the target.
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

READ_CHUNK = 1 << 20  # bytes per read(2) call: a bound of gigabytes is read in pieces, not asked for at once


class FileError(Exception):
    """A file the policy refuses, or an I/O failure; str() is one line, "PATH: what is wrong"."""

    def __init__(self, path: str | os.PathLike, reason: str, missing: bool = False):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason
        self.missing = missing  # no such file (ENOENT): for callers where that is a state, not an error


@contextlib.contextmanager
def open_regular(path: str | os.PathLike):
    """(descriptor, size) of the regular file `path`, open for reading, closed on leaving the block; FileError
    for anything else (module docstring). For readers that bound what they read by what they find in it (a
    checkpoint's header); the others call read_regular."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise FileError(path, f"cannot be opened: {e.strerror}", missing=e.errno == errno.ENOENT) from None
    try:
        try:
            st = os.fstat(fd)
        except OSError as e:
            raise FileError(path, f"cannot be read: {e.strerror}") from None
        if stat.S_ISDIR(st.st_mode):
            raise FileError(path, "is a directory, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise FileError(path, "is not a regular file (a FIFO, a device or a socket is never read)")
        yield fd, st.st_size
    finally:
        os.close(fd)


def read_open(fd: int, path: str | os.PathLike, count: int) -> bytes:
    """Up to `count` bytes from the descriptor (fewer at the end of the file)."""
    chunks, size = [], 0
    try:
        while size < count:
            chunk = os.read(fd, min(READ_CHUNK, count - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise FileError(path, f"cannot be read: {e.strerror}") from None
    return b"".join(chunks)


def read_regular(path: str | os.PathLike, limit: int, tail: bool = False) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them: a larger file is refused (FileError),
    or with `tail` its last `limit` bytes are returned (a log's end)."""
    with open_regular(path) as (fd, size):
        if size > limit:
            if not tail:
                raise FileError(path, f"is larger than {limit} bytes ({size})")
            os.lseek(fd, size - limit, os.SEEK_SET)
        data = read_open(fd, path, limit + 1)  # one byte past the bound tells a file that grew since fstat
    if len(data) > limit:
        if not tail:
            raise FileError(path, f"grew beyond {limit} bytes while it was read")
        data = data[-limit:]
    return data


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Replaces `path` with `data`: the old file or the new one, never part of one (module docstring)."""
    path = Path(path)
    # the target's name, cut (a name near the system's 255-byte limit leaves no room for a suffix), and a
    # random part: two writers of one file never share a temporary
    tmp = path.with_name(f".{path.name[:100]}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)  # the umask applies
    except OSError as e:
        raise FileError(path, f"cannot be written: {e.strerror}") from None
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise FileError(path, f"cannot be written: {e.strerror}") from None
    try:  # the rename itself survives a crash once the directory is on disk
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as e:
        raise FileError(path.parent, f"cannot be synced after writing {path.name}: {e.strerror}") from None
