#!/usr/bin/python3
"""docs/formats.md checked against the binary (ctest formats_check): tests/formats_check.py, written from that
page alone, recomputes a gpt run's last validation loss from its config.toml, checkpoint.bin and corpus, and
must agree with eval.csv to the rounding of the binary's float32 forward pass; `ringmaster eval --run`, the
binary's own evaluation of the same checkpoint, must print eval.csv's digits exactly. Two runs: the default
corpus (the fortunes directory: .dat indexes and .u8 links beside the files) and a corpus directory of our own
with a symlink, an index file and a subdirectory, another seed, validation fraction and context."""
import os
import subprocess
import sys
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
import formats_check  # noqa: E402
from binary_runs import BINARY, RunsTestCase, simulate  # noqa: E402

TINY = REPO / "tests" / "configs" / "good" / "gpt_tiny.toml"  # 1 layer, 2 heads, width 16, context 16
U = 2.0 ** -24  # float32's unit roundoff


def forward_error_count(layers: int, heads: int, width: int, context: int, vocab: int = 256) -> float:
    """How many float32 roundings (in units of u, relative to the loss) the binary's forward pass can put into
    one prediction's loss, counted as tests/test_gpt.cpp counts them for the model against PyTorch: per layer
    the reductions of rmsnorm (C), the qkv product (C), QK-norm (D + 4), the scores (D + 2) with exp's
    conditioning √D (2D + 10) and its own 8, softmax (T + 2), att·v (T), c_proj (C), rmsnorm (C), c_fc (C),
    relu² (2), mlp.c_proj (4C); then the final rmsnorm (C), lm_head (C), the soft cap (11) and the
    cross-entropy's exp (conditioning 2·11·cap, its own 8) and sum (V + 2). A mean over predictions is within the
    largest error of its terms; its sum in double adds nothing at this scale."""
    C, D, T = width, width / heads, context
    layer = C + C + (D + 4) + (D + 2) + D ** 0.5 * (2 * D + 10) + 8 + (T + 2) + T + C + C + C + 2 + 4 * C
    return layers * layer + C + C + 11 + 2 * 11 * 15.0 + 8 + vocab + 2


class FormatsCheck(RunsTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        corpus = cls.dir / "corpus"
        (corpus / "sub").mkdir(parents=True)
        docs = [f"document {d}: " + " ".join(f"w{(d * 7 + w) % 23}" for w in range(5 + d % 9)) + "\n"
                for d in range(120)]
        (corpus / "b").write_text("%\n".join(docs[:70]))
        (corpus / "a").write_text("%\n".join(docs[70:]) + "%\n")  # a trailing `%` line: no empty document
        (corpus / "a.dat").write_bytes(b"\x00\x01 an index, never read as text")  # holds byte 0: must be skipped
        os.symlink(corpus / "b", corpus / "c")  # b again under another name: skipped
        (corpus / "sub" / "d").write_text("never read\n")
        cls.runs = {
            "fortunes": cls.simulate("default", "run.time_budget_s=1.5"),
            "own corpus": cls.simulate("own", "run.time_budget_s=1.0", "run.seed=7", f'objective.gpt.corpus="{corpus}"',
                                       "objective.gpt.validation_fraction=0.3", "objective.gpt.context=12",
                                       "objective.gpt.heads=1"),
        }

    @classmethod
    def simulate(cls, name, *sets):
        return simulate(BINARY, TINY, cls.dir / name, *sets)

    def test_the_page_alone_recomputes_the_last_validation_loss(self):
        for name, run in self.runs.items():
            with self.subTest(name):
                gpt = __import__("tomllib").loads((run / "config.toml").read_text())["objective"]["gpt"]
                ours, theirs = formats_check.validation_loss(run), formats_check.last_eval_loss(run)
                self.assertLess(theirs, 5.0)  # trained: the check is not of the uniform prediction ln 256
                # the float32 forward's bound, and eval.csv's 9 significant digits (half a unit of the 9th)
                bound = forward_error_count(gpt["layers"], gpt["heads"], gpt["width"], gpt["context"]) * U * theirs
                self.assertLess(abs(ours - theirs), bound + 5e-9 * theirs, f"{name}: {ours!r} vs {theirs!r}")

    def test_ringmaster_eval_prints_the_last_row_digit_for_digit(self):
        for name, run in self.runs.items():
            with self.subTest(name):
                out = subprocess.run([BINARY, "eval", "--run", str(run)], check=True, capture_output=True, text=True)
                header, row = out.stdout.splitlines()
                self.assertEqual(header, "time_s,k,loss,grad_dual_norm")
                last = (run / "eval.csv").read_text().splitlines()[-1]
                self.assertEqual(row, last.rsplit(",", 1)[0])  # eval.csv's row without train_loss

    def test_the_split_draws_are_mt19937_64_seeded_by_seed_seq(self):
        # The C++ standard's required value ([rand.predef]): the 10000th output of a default-constructed
        # std::mt19937_64 (seed 5489, not a seed_seq) is 9981545732273789042 — the generator alone, by the
        # page's parameters.
        rng = formats_check.MT19937_64([0])
        state, x = [5489], 5489
        for i in range(1, 312):
            x = (6364136223846793005 * (x ^ (x >> 62)) + i) & ((1 << 64) - 1)
            state.append(x)
        rng.state, rng.index = state, 312
        for _ in range(9999):
            rng.next()
        self.assertEqual(rng.next(), 9981545732273789042)


if __name__ == "__main__":
    unittest.main()
