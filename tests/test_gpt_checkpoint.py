#!/usr/bin/python3
"""Tests of tools/gpt_checkpoint.py and tools/run_files.py against the real binary (RINGMASTER_BINARY, which
ctest sets): a checkpoint loads only into the network of the configuration that wrote it (the config hash, as
`ringmaster sample` checks it); hostile checkpoints and configs are one line and exit 2 naming the file, never
a traceback, a hang or an allocation the file announces; a failed --save is exit 1 naming the file.
(tests/test_gpt_run.cpp checks that the tool and `ringmaster sample` decode the same text.)"""
import contextlib
import io
import os
import shutil
import struct
import subprocess
import sys
import unittest
import zlib
from pathlib import Path

import cbor2
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "tests"))
from binary_runs import BINARY, RunsTestCase, simulate  # noqa: E402
import gpt_checkpoint  # noqa: E402
import gpt_torch  # noqa: E402
from run_files import HEADER, MAGIC, MAX_DEPTH, walk_cbor  # noqa: E402

TINY = REPO / "tests" / "configs" / "good" / "gpt_tiny.toml"  # 1 block, width 16, 4 workers


def checkpoint_bytes(payload: bytes) -> bytes:
    """A checkpoint file around `payload`, with a valid header (length, CRC-32)."""
    return MAGIC + struct.pack("<QI", len(payload), zlib.crc32(payload)) + payload


class GptCheckpointTest(RunsTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        (cls.dir / "trace.csv").write_text("worker,seconds\n1,0.01\n2,0.02\n3,0.015\n4,0.03\n1,0.012\n")
        # Two shapes with as many parameters (heads and context change no size). The first sets every key the
        # config hash leaves out to a value other than its default, and replays a trace (hashed by content).
        cls.a, cls.b = cls.dir / "a", cls.dir / "b"
        cls.simulate(cls.a, "objective.gpt.heads=2", "objective.gpt.context=32", "run.time_budget_s=0.5",
                     "run.max_updates=1000000", "run.target_loss=0.001", "run.log_every_s=1.0",
                     "checkpoint.every_s=0.25", "sim.threads=1", 'heterogeneity.profile="trace"',
                     f'heterogeneity.trace="{cls.dir / "trace.csv"}"', "heterogeneity.server_update_s=0.001")
        cls.simulate(cls.b, "objective.gpt.heads=4", "objective.gpt.context=64", "run.time_budget_s=0.25")

    @classmethod
    def simulate(cls, out: Path, *sets: str) -> None:
        simulate(BINARY, TINY, out, *sets)

    def tool(self, *args: str) -> tuple[int, str]:
        """gpt_checkpoint.py in this process: (exit code, stderr)."""
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = gpt_checkpoint.main([*map(str, args)])
            except SystemExit as e:  # argparse
                code = e.code
        return code, err.getvalue()

    def run_dir(self, name: str, payload: bytes | None = None) -> Path:
        """A copy of run a, with a checkpoint around `payload` if given."""
        d = self.dir / self._testMethodName / name
        shutil.copytree(self.a, d)
        if payload is not None:
            (d / "checkpoint.bin").write_bytes(checkpoint_bytes(payload))
        return d

    def assert_bad_input(self, run: Path, *texts: str, code: int = 2) -> str:
        got, err = self.tool(run)
        self.assertEqual(got, code, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        for text in texts:
            self.assertIn(text, err)
        return err

    def real_payload(self) -> dict:
        return cbor2.loads((self.a / "checkpoint.bin").read_bytes()[HEADER:])

    def test_a_checkpoint_loads_into_the_network_of_its_own_configuration(self):
        model, config, checkpoint = gpt_checkpoint.load_run(self.a)
        self.assertEqual((model.heads, model.context), (2, 32))
        self.assertEqual(len(checkpoint["x"]) // 4, gpt_torch.parameter_count(1, 16))
        flat = gpt_torch.to_flat(model).numpy()
        self.assertEqual(flat.tobytes(), checkpoint["x"])  # every parameter where the layout puts it

    def test_a_checkpoint_of_another_shape_with_as_many_parameters_is_refused_as_the_binary_refuses_it(self):
        swapped = self.dir / "swapped"
        shutil.copytree(self.b, swapped)
        shutil.copy(self.a / "checkpoint.bin", swapped / "checkpoint.bin")
        message = f"checkpoint {swapped / 'checkpoint.bin'}: written by a different configuration than " \
                  f"{swapped / 'config.toml'}"
        self.assert_bad_input(swapped, message)
        binary = subprocess.run([BINARY, "sample", "--run", str(swapped), "--tokens", "4"], capture_output=True,
                                text=True)
        self.assertEqual(binary.returncode, 2)
        self.assertIn(message, binary.stderr)

    def test_payloads_outside_the_agreed_limits_are_refused_before_decoding(self):
        real = self.real_payload()
        x = real["x"]
        cases = {
            "deep": (b"\x81" * 150_000 + b"\x00", f"nested more than {MAX_DEPTH} deep, at byte {MAX_DEPTH}"),
            "huge-string": (b"\xa1\x61x\x7b" + (10**15).to_bytes(8, "big"),
                            "a length of 1000000000000000 bytes with 0 bytes left, at byte 3"),
            "huge-map": (b"\xbb" + (2**63).to_bytes(8, "big"), "a count of 9223372036854775808 items"),
            "indefinite": (b"\xbf\x61x\x00\xff", "an indefinite-length item"),
            "tag": (b"\xa1\x61x\xc1\x00", "a tag (the writer makes none), at byte 3"),
            "undefined": (b"\xa1\x61x\xf7", "a simple value the writer never makes (0xf7)"),
            "key": (b"\xa1\x01\x02", "a map key that is not text, at byte 1"),
            "below-int64": (b"\xa1\x61x\x3b" + (2**63).to_bytes(8, "big"), "a negative integer below -2^63, at byte 3"),
            "trailing": (b"\xa0\x00", "1 bytes after the payload's item"),
            "short": (b"\xa1\x61x\x5a\x00", "the payload ends inside an item's head"),
            "utf8": (b"\xa1\x61x\x61\xff", "malformed content"),
            "not-a-map": (b"\x81\x00", "the payload is not a map"),
            "x-torn": (cbor2.dumps({**real, "x": x[:-1]}), f"x is not a float32 array (bytes of {len(x) - 1} bytes)"),
            "x-text": (cbor2.dumps({**real, "x": "0000"}), "x is not a float32 array (str)"),
            "x-size": (cbor2.dumps({**real, "x": x + bytes(4)}), f"holds {len(x) // 4 + 1} parameters, the network "
                                                                 f"of {self.dir / self._testMethodName / 'x-size' / 'config.toml'} has"),
        }
        for name, (payload, text) in cases.items():
            with self.subTest(name):
                run = self.run_dir(name, payload)
                self.assert_bad_input(run, f"checkpoint {run / 'checkpoint.bin'}: ", text)
        walk_cbor((self.a / "checkpoint.bin").read_bytes()[HEADER:])  # what the writer makes passes
        walk_cbor(b"\x81" * (MAX_DEPTH - 1) + b"\xa1\x61x\x00")  # 32 deep: the limit itself

    def test_files_that_cannot_be_a_checkpoint_are_refused_from_their_type_and_header(self):
        fifo = self.run_dir("fifo")
        os.unlink(fifo / "checkpoint.bin")
        os.mkfifo(fifo / "checkpoint.bin")  # without a writer: a blocking open never returns
        self.assert_bad_input(fifo, "checkpoint.bin: is not a regular file")
        zero = self.run_dir("zero")
        os.unlink(zero / "checkpoint.bin")
        os.symlink("/dev/zero", zero / "checkpoint.bin")  # endless
        self.assert_bad_input(zero, "checkpoint.bin: is not a regular file")
        padded = self.run_dir("padded")
        os.truncate(padded / "checkpoint.bin", (padded / "checkpoint.bin").stat().st_size + (1 << 30))
        self.assert_bad_input(padded, "truncated or padded: header says")
        huge = self.run_dir("huge")
        with open(huge / "checkpoint.bin", "wb") as f:  # 4 GiB announced and there (sparse): not read
            f.write(MAGIC + struct.pack("<QI", 1 << 32, 0))
            f.truncate(HEADER + (1 << 32))
        self.assert_bad_input(huge, "payload of 4294967296 bytes is larger than this run's checkpoint can be")
        fifo_config = self.run_dir("fifo-config")
        os.unlink(fifo_config / "config.toml")
        os.mkfifo(fifo_config / "config.toml")
        self.assert_bad_input(fifo_config, f"{fifo_config / 'config.toml'}: is not a regular file")

    def test_a_config_that_cannot_be_the_binarys_is_one_line_naming_the_key(self):
        text = (self.a / "config.toml").read_text()
        cases = {
            "no-gpt": (text.replace("[objective.gpt]", "[objective.gpu]"), "no [objective.gpt] table"),
            "width-text": (text.replace("width = 16", 'width = "64"'),
                           "objective.gpt.width: expected an integer in [2, 8192], got '64'"),
            "width-odd": (text.replace("width = 16", "width = 18"), "objective.gpt.width = 18 does not split"),
            "layers-bool": (text.replace("layers = 1", "layers = true"), "objective.gpt.layers: expected an integer"),
            "workers": (text.replace("workers = 4", "workers = 0"), "run.workers: expected an integer in [1, "),
            "deep": ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
            "large": ("#" * (2 << 20), "is larger than 1048576 bytes"),
            "not-toml": ("[run\n", "config.toml: "),
            "quadratic": (text.replace('kind = "gpt"', 'kind = "quadratic"'), "a gpt run is needed"),
        }
        for name, (config, message) in cases.items():
            with self.subTest(name):
                run = self.run_dir(name)
                (run / "config.toml").write_text(config)
                self.assert_bad_input(run, message)
        missing = self.dir / "no-run"
        self.assert_bad_input(missing, f"{missing / 'config.toml'}: cannot be opened: No such file or directory")

    def test_save_writes_the_state_dict_whole_or_fails_naming_the_file(self):
        target = self.dir / "model.pt"
        self.assertEqual(self.tool(self.a, "--save", target)[0], 0)
        state = torch.load(target)
        self.assertEqual(state["wte.weight"].shape, (256, 16))
        into_missing = self.dir / "nowhere" / "model.pt"
        code, err = self.tool(self.a, "--save", into_missing)
        self.assertEqual(code, 1, err)
        self.assertEqual(err.strip().splitlines()[-1],
                         f"gpt_checkpoint: {into_missing}: cannot be written: No such file or directory")
        self.assertFalse(into_missing.parent.exists())

    def test_help_is_whole(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), self.assertRaises(SystemExit):
            gpt_checkpoint.main(["--help"])
        self.assertIn("greedy-decodes text from it.", " ".join(out.getvalue().split()))

    def test_help_needs_no_torch_and_the_rest_says_what_is_missing(self):
        # -S: no site-packages, so neither numpy nor torch (Debian's are there): --help is still the whole
        # docstring, and anything else one line naming what is missing, exit 2, never a traceback
        tool = [sys.executable, "-I", "-S", str(REPO / "tools" / "gpt_checkpoint.py")]
        helped = subprocess.run([*tool, "--help"], capture_output=True, text=True)
        self.assertEqual(helped.returncode, 0, helped.stderr)
        self.assertIn("python3-cbor2 (scripts/bootstrap.sh).", helped.stdout)  # the docstring's last sentence
        self.assertIn("--sample PROMPT", helped.stdout)
        used = subprocess.run([*tool, str(self.a)], capture_output=True, text=True)
        self.assertEqual(used.returncode, 2, used.stderr)
        self.assertEqual(len(used.stderr.strip().splitlines()), 1, used.stderr)
        self.assertIn("python3-torch and python3-numpy", used.stderr)

    def test_parameter_count_is_the_networks(self):
        for layers, heads, width in ((1, 2, 16), (2, 4, 64), (3, 1, 8)):
            model = gpt_torch.GPT(layers, heads, width, 8)
            self.assertEqual(gpt_torch.parameter_count(layers, width), sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    unittest.main()
