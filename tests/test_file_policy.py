#!/usr/bin/python3
"""Tests of tools/file_policy.py, the Python tools' one way to read and write files: what is not a regular file
is refused without being read (a FIFO without a writer returns at once), reads are bounded by the caller before
a byte is read, and a write that fails leaves the old file whole and no temporary behind."""
import os
import signal
import stat
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
from file_policy import FileError, read_regular, write_atomic  # noqa: E402


class FilePolicyTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="test_file_policy.")
        self.dir = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def refused(self, path, limit=1 << 20, **kwargs) -> FileError:
        with self.assertRaises(FileError) as e:
            read_regular(path, limit, **kwargs)
        self.assertTrue(str(e.exception).startswith(f"{path}: "), str(e.exception))
        return e.exception

    def test_what_is_not_a_regular_file_is_never_read(self):
        os.mkfifo(self.dir / "fifo")  # no writer: a blocking open would wait forever
        self.assertIn("is not a regular file", self.refused(self.dir / "fifo").reason)
        os.symlink("/dev/zero", self.dir / "zero")  # endless: a read to the end would never end
        self.assertIn("is not a regular file", self.refused(self.dir / "zero").reason)
        self.assertIn("is a directory", self.refused(self.dir).reason)
        missing = self.refused(self.dir / "missing")
        self.assertTrue(missing.missing)
        self.assertIn("No such file or directory", missing.reason)
        self.assertFalse(self.refused(self.dir / "zero").missing)

    def test_reads_are_bounded_by_the_caller(self):
        path = self.dir / "f"
        path.write_bytes(b"0123456789")
        self.assertEqual(read_regular(path, 10), b"0123456789")
        self.assertEqual(self.refused(path, 9).reason, "is larger than 9 bytes (10)")
        self.assertEqual(read_regular(path, 4, tail=True), b"6789")  # a log's end
        os.truncate(path, 1 << 40)  # a sparse terabyte: refused from its size, nothing allocated
        self.assertIn("is larger than 1048576 bytes", self.refused(path).reason)

    def test_a_write_replaces_the_file_whole(self):
        path = self.dir / "report.md"
        write_atomic(path, b"old\n")
        write_atomic(path, b"new\n")
        self.assertEqual(path.read_bytes(), b"new\n")
        self.assertEqual(os.listdir(self.dir), ["report.md"])
        umask = os.umask(0)
        os.umask(umask)
        self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o666 & ~umask)  # not mkstemp's 0600

    def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(self):
        with self.assertRaises(FileError) as e:
            write_atomic(self.dir / "missing" / "model.pt", b"x")
        self.assertEqual(str(e.exception), f"{self.dir / 'missing' / 'model.pt'}: cannot be written: "
                                           "No such file or directory")
        path = self.dir / "table.csv"
        write_atomic(path, b"a,b\n1,2\n")
        # a file size limit (a quota; a full disk fails alike with ENOSPC): the second write cannot finish
        child = ("import os, resource, signal, sys; sys.path.insert(0, sys.argv[1]); from file_policy import "
                 "FileError, write_atomic\nresource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
                 "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\ntry:\n    write_atomic(sys.argv[2], b'x' * 10000)\n"
                 "except FileError as e:\n    print(e)")
        result = subprocess.run([sys.executable, "-c", child, str(REPO / "tools"), str(path)], capture_output=True,
                                text=True, check=True)
        self.assertEqual(result.stdout, f"{path}: cannot be written: File too large\n")
        self.assertEqual(path.read_bytes(), b"a,b\n1,2\n")
        self.assertEqual(os.listdir(self.dir), ["table.csv"])


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    unittest.main()
