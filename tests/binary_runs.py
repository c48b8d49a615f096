"""Runs of the real binary for the Python tests (ctest passes its path in RINGMASTER_BINARY)."""
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

BINARY = os.environ.get("RINGMASTER_BINARY")


def simulate(binary: str, config: str | Path, out: Path, *sets: str) -> Path:
    """`ringmaster simulate -c CONFIG --out OUT --set S...`; raises CalledProcessError if it fails. Returns OUT."""
    args = [binary, "simulate", "-c", str(config), "--out", str(out)]
    for s in sets:
        args += ["--set", s]
    subprocess.run(args, check=True, capture_output=True)
    return out


class RunsTestCase(unittest.TestCase):
    """Tests of the runs the binary makes: the class's tests share a temporary directory `dir` (removed after the
    last), in which setUpClass (calling this one first) makes them. Skipped without RINGMASTER_BINARY."""

    @classmethod
    def setUpClass(cls):
        if not BINARY:
            raise unittest.SkipTest("RINGMASTER_BINARY not set (ctest sets it)")
        cls._tmp = tempfile.TemporaryDirectory(prefix=f"{cls.__name__}.")
        cls.dir = Path(cls._tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()
