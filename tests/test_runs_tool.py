#!/usr/bin/python3
"""Tests of tools/runs.py on tiny real simulator runs (RINGMASTER_BINARY, which ctest sets): show says how a run
ended and prints its last eval.csv row; plot draws each run's eval.csv values against time or k in one PNG;
compare puts the runs side by side and lists exactly the config.toml keys that differ; follow prints rows as a
live run writes them (a run made live by hand: a process named ringmaster holding its .lock) and ends with the
run; bad input is one line and exit 2 before anything is read or drawn, a PNG that cannot be written exit 1."""
import contextlib
import importlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import unittest
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "tests"))
import runs  # noqa: E402
import sweeplib.plots as plots_module  # noqa: E402
from binary_runs import BINARY, RunsTestCase, simulate  # noqa: E402

TINY = REPO / "tests" / "configs" / "good" / "gpt_tiny.toml"  # 4 workers, an evaluation every virtual second
WAIT = 120.0  # seconds a test waits for the tool to catch up with it: a safety net, never a measurement


def eval_rows(run: Path) -> list[list[str]]:
    return [line.split(",") for line in (run / "eval.csv").read_text().splitlines()[1:]]


class RunsTool(RunsTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a = simulate(BINARY, TINY, cls.dir / "a", "run.time_budget_s=3")
        cls.b = simulate(BINARY, TINY, cls.dir / "b", "run.time_budget_s=3", "run.seed=1")
        cls.quadratic = simulate(BINARY, REPO / "configs" / "quadratic.toml", cls.dir / "q", "run.time_budget_s=20")

    def tool(self, *args) -> tuple[int, str, str]:
        """runs.py in this process: (exit code, stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = runs.main([str(a) for a in args])
            except SystemExit as e:  # argparse
                code = e.code
        return code, out.getvalue(), err.getvalue()

    def assert_bad_input(self, code: int, err: str, *texts: str) -> None:
        self.assertEqual(code, 2, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        for text in texts:
            self.assertIn(text, err)

    def copy(self, run: Path, name: str) -> Path:
        target = self.dir / self._testMethodName / name
        shutil.copytree(run, target)
        return target

    def test_show_says_how_the_run_ended_and_prints_its_last_evaluation(self):
        code, out, err = self.tool("show", self.a)
        self.assertEqual(code, 0, err)
        summary = json.loads((self.a / "summary.json").read_text())
        self.assertIn(f"{self.a}: finished (time_budget)", out)
        self.assertIn(f"engine sim, 4 workers, seed 0, objective gpt, run id {summary['run_id']}", out)
        self.assertIn(f"{summary['updates']} updates", out)
        last = eval_rows(self.a)[-1]
        self.assertIn(f"eval.csv: {len(eval_rows(self.a))} rows; the last at t = 3 s, k = {last[1]}: "
                      f"loss {float(last[2]):.4g}, grad_dual_norm {float(last[3]):.4g}", out)
        self.assertIn("time to relative loss 0.1: ", out)

    def test_find_lists_runs_by_name_config_file_and_experiment(self):
        # a, b and q under one directory; b differs from a by its seed (another experiment), q by its config file
        found = self.dir / "found"
        found.mkdir()
        for run in (self.a, self.b, self.quadratic):
            shutil.copytree(run, found / run.name)
        # the hash is the one the binary recorded at the start (provenance.json); a run from before provenance.json
        # has none (its checkpoints carry the older rule's), and a search by hash does not list it
        old = found / "old"
        shutil.copytree(self.a, old)
        (old / "provenance.json").unlink()
        self.assertIsNone(runs.hash_of(runs.load_run(old)))
        a_hash = json.loads((self.a / "provenance.json").read_text())["config_hash"]
        self.assertEqual(runs.hash_of(runs.load_run(self.a)), a_hash)

        def listed(*args):
            code, out, err = self.tool("find", found, *args)
            self.assertEqual(code, 0, err)
            return sorted(Path(line.split()[0]).name for line in out.splitlines() if line != "no run matches")

        self.assertEqual(listed(), ["a", "b", "old", "q"])
        self.assertEqual(listed("--same-as", self.a), ["a"])
        self.assertEqual(listed("--hash", a_hash), ["a"])
        self.assertEqual(listed("--config", REPO / "configs" / "quadratic.toml"), ["q"])
        self.assertEqual(listed("--config", TINY, "--name", "b"), ["b"])
        self.assertEqual(listed("--hash", "0" * 16), [])
        # show names the hash and the command that started the run
        code, out, err = self.tool("show", self.a)
        self.assertIn(f"config hash {a_hash}", out)
        self.assertIn(f"simulate -c {TINY} --out {self.a} --set run.time_budget_s=3", out)

    def test_plot_draws_every_runs_eval_csv_against_time_or_k(self):
        for x, column in (("time", 0), ("k", 1)):
            with self.subTest(x):
                drawn = {}
                write_figure = runs.write_figure

                def keep(fig, path):
                    drawn["lines"] = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
                                      for ax in fig.axes for line in ax.get_lines()}
                    drawn["xlabel"] = fig.axes[0].get_xlabel()
                    return write_figure(fig, path)

                png = self.dir / f"ab-{x}.png"
                with mock.patch.object(runs, "write_figure", keep):
                    code, out, err = self.tool("plot", self.a, self.b, "--x", x, "--out", png)
                self.assertEqual((code, out.strip()), (0, str(png)), err)
                self.assertEqual(png.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")
                self.assertEqual(drawn["xlabel"], "training time (s)" if x == "time" else "k (updates)")
                for run in (self.a, self.b):
                    rows = eval_rows(run)
                    xs, ys = drawn["lines"][f"{run.name} (sim)"]
                    self.assertEqual(xs, [float(r[column]) for r in rows])
                    self.assertEqual(ys, [float(r[2]) for r in rows])
                    trained = [r for r in rows if r[4]]  # train_loss: empty in the first row, before any update
                    self.assertEqual(drawn["lines"][f"{run.name}: train_loss"][1], [float(r[4]) for r in trained])

    def test_plot_of_a_quadratic_uses_a_labelled_log_axis(self):
        scales = {}
        write_figure = runs.write_figure

        def keep(fig, path):
            scales["y"] = fig.axes[0].get_yscale()
            return write_figure(fig, path)

        with mock.patch.object(runs, "write_figure", keep):
            self.assertEqual(self.tool("plot", self.quadratic, "--out", self.dir / "q.png")[0], 0)
        self.assertEqual(scales["y"], "log")  # f − f* over decades

    def test_compare_lists_the_runs_side_by_side_and_exactly_the_keys_that_differ(self):
        code, out, err = self.tool("compare", self.a, self.b)
        self.assertEqual(code, 0, err)
        table, _, differences = out.partition("config.toml differences:")
        rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
                for line in table.splitlines() if line.startswith("| ")}
        for run, column in ((self.a, 0), (self.b, 1)):
            summary = json.loads((run / "summary.json").read_text())
            self.assertEqual(rows["updates"][column], str(summary["updates"]))
            self.assertEqual(rows["engine"][column], "sim")
            self.assertEqual(rows["final_loss"][column], f"{summary['final_loss']:.4g}")
        self.assertEqual(rows["seed"], ["0", "1"])
        diff_rows = [[c.strip() for c in line.split("|")[1:-1]] for line in differences.splitlines()
                     if line.startswith("| ") and not line.startswith("| key")]
        self.assertEqual(diff_rows, [["run.seed", "0", "1"]])
        code, out, _ = self.tool("compare", self.a, self.copy(self.a, "again"))
        self.assertIn("config.toml: the same configuration in every run", out)

    def test_follow_prints_rows_as_a_live_run_writes_them_and_ends_with_it(self):
        live = self.copy(self.a, "live")
        header, *rows = (self.a / "eval.csv").read_text().splitlines(keepends=True)
        (live / "eval.csv").write_text(header + rows[0])
        os.unlink(live / "summary.json")
        # a process named ringmaster, command simulate, holding the lock as a run's rank 0 does
        holder = subprocess.Popen(["bash", "-c", 'exec -a ringmaster /usr/bin/python3 -c "import time; '
                                   'time.sleep(600)" simulate'])
        self.addCleanup(holder.kill)
        cmdline = Path(f"/proc/{holder.pid}/cmdline")
        for _ in range(int(WAIT / 0.01)):  # until bash has become it
            if cmdline.read_bytes().startswith(b"ringmaster\0"):
                break
            threading.Event().wait(0.01)
        (live / ".lock").write_text(f"pid {holder.pid} on {socket.gethostname()}\n")
        code, out, _ = self.tool("show", live)
        self.assertIn(f"running (ringmaster simulate, pid {holder.pid} on {socket.gethostname()})", out)
        self.assertIn("engine sim,", out)

        output = io.StringIO()
        result = {}
        thread = threading.Thread(target=lambda: result.setdefault("code", runs.follow(str(live), 0.02, None, output)))
        thread.start()

        def wait_for(text: str) -> None:
            for _ in range(int(WAIT / 0.01)):
                if text in output.getvalue():
                    return
                threading.Event().wait(0.01)
            self.fail(f"follow did not print {text!r}:\n{output.getvalue()}")

        wait_for("t = 0 s  k = 0")
        with open(live / "eval.csv", "a") as f:
            torn, rest = rows[1][:7], rows[1][7:]
            f.write(torn)  # a row being written: not shown until it is whole
            f.flush()
            threading.Event().wait(0.1)
            self.assertNotIn("t = 1 s", output.getvalue())
            f.write(rest)
        wait_for("t = 1 s")
        with open(live / "eval.csv", "a") as f:
            f.writelines(rows[2:])
        shutil.copy(self.a / "summary.json", live / "summary.json")
        holder.kill()
        holder.wait()
        thread.join(WAIT)
        self.assertEqual(result.get("code"), 0, output.getvalue())
        printed = [line for line in output.getvalue().splitlines() if line.startswith("t = ")]
        self.assertEqual(len(printed), len(rows), output.getvalue())  # every row once
        self.assertIn(f"{live}: finished (time_budget)", output.getvalue())

    def test_follow_of_a_run_that_ended_without_a_summary_exits_1(self):
        killed = self.copy(self.a, "killed")
        os.unlink(killed / "summary.json")
        out = io.StringIO()
        self.assertEqual(runs.follow(str(killed), 0.01, None, out), 1)
        self.assertIn(f"ended without a summary.json (killed?); ringmaster train|simulate --resume {killed} continues "
                      "from its checkpoint", out.getvalue())

    def test_bad_input_is_one_line_exit_2_naming_the_file(self):
        not_a_run = self.dir / "empty"
        not_a_run.mkdir()
        fifo = self.copy(self.a, "fifo")
        os.unlink(fifo / "eval.csv")
        os.mkfifo(fifo / "eval.csv")  # no writer: a blocking open would wait forever
        torn = self.copy(self.a, "text")
        (torn / "eval.csv").write_text("time_s,k,loss,grad_dual_norm\n0.0,0,lots,1\n")
        for args, texts in (
                (("show", self.dir / "nowhere"), (f"{self.dir / 'nowhere'}: not a directory",)),
                (("show", not_a_run), (f"{not_a_run / 'config.toml'}: cannot be opened", "not a run directory?")),
                (("compare", self.a, fifo), (f"{fifo / 'eval.csv'}: is not a regular file",)),
                (("plot", torn), (f"{torn / 'eval.csv'}:2 loss: 'lots' is not a number",)),
                (("follow", self.a, "--every", "0"), ("--every must be a positive number of seconds",))):
            with self.subTest(args[0]):
                self.assert_bad_input(*self.tool(*args)[::2], *texts)

    def test_plot_without_matplotlib_stops_before_reading_and_a_png_that_cannot_be_written_is_exit_1(self):
        real = importlib.import_module

        def without_matplotlib(name, *args):
            if name.split(".")[0] == "matplotlib":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return real(name, *args)

        with mock.patch.object(plots_module.importlib, "import_module", without_matplotlib), \
                mock.patch.object(runs, "load_runs", side_effect=AssertionError("read before the check")):
            code, _, err = self.tool("plot", self.a, "--out", self.dir / "x.png")
        self.assert_bad_input(code, err, "cannot import matplotlib")
        missing = self.dir / "no-such-dir" / "x.png"
        code, _, err = self.tool("plot", self.a, "--out", missing)
        self.assertEqual(code, 1, err)
        self.assertEqual(err.strip(), f"runs: {missing}: cannot be written: No such file or directory")


if __name__ == "__main__":
    unittest.main()
