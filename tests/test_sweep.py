#!/usr/bin/python3
"""Tests of tools/sweep.py: grid expansion, tuning choice, skip-finished, aggregation math, the Slurm
submission chain (dry run), and one small sweep through the real binary when RINGMASTER_BINARY is set
(ctest sets it). Runs in seconds: the runs are made by a stand-in binary that writes a summary.json
computed from its --set arguments, so every expected number follows from the test's own formulas."""
import contextlib
import csv
import importlib
import io
import json
import math
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import sweep  # noqa: E402  (the command line)
import sweeplib.plots as plots_module  # noqa: E402
from sweeplib.plots import plot  # noqa: E402
from sweeplib.points import (compare_points, format_value, group_key, needs_tuning, point_dir,  # noqa: E402
                             tune_points)
from sweeplib.report import Group, Speedup, aggregate, grows, speedup, stat  # noqa: E402
from sweeplib.rundir import is_finished, point_record, read_summary, relative_final_loss, time_to  # noqa: E402
from sweeplib.runner import run_command, run_phase  # noqa: E402
from sweeplib.slurm import slurm_submit  # noqa: E402
from sweeplib.spec import (Spec, SpecError, canonical_target, eval_interval, labels_interval, load_spec,  # noqa: E402
                           overrides_interval)
from sweeplib.tuning import choose, phase_points, score_of, tuning_score, within_noise, write_tuned  # noqa: E402
from sweeplib.check import check, compare_tables, compare_tuned, intervals_agree, read_table, read_tuned_record  # noqa: E402
from sweeplib.report import fastest, publish  # noqa: E402
from sweeplib.names import NAME_MAX, SAFE  # noqa: E402
from sweeplib.spec import MAX_POINTS  # noqa: E402
from sweeplib.sweepdir import claimed  # noqa: E402

# A stand-in for `ringmaster simulate`: the loss after the run is |log10(stepsize / 0.05)| + 0.001
# (so stepsize 0.05 is best), the time to every target is 10 / speed with speed from the method and p,
# the seed adds 1% per unit to the time. Every call is appended to calls.log next to the binary.
# With --set fake.accuracy=true it is a learning objective: test accuracy 0.8 at half that time, 0.85 at
# three quarters, 0.88 at that time, 0.9 never (final accuracy 0.89), and eval.csv has an accuracy column.
FAKE = r'''#!/usr/bin/python3
import json, math, os, sys, tomllib
args = sys.argv[1:]
assert args[0] == "simulate", args
sets, out = {}, None
i = 1
while i < len(args):
    if args[i] == "--set":
        k, _, v = args[i + 1].partition("=")
        sets[k] = tomllib.loads("v = " + v)["v"]
        i += 2
    elif args[i] == "--out":
        out = args[i + 1]; i += 2
    elif args[i] == "-c":
        i += 2
    else:
        i += 1
with open(os.path.join(os.path.dirname(__file__), "calls.log"), "a") as log:
    log.write(json.dumps(sets) + "\n")
if sets.get("run.method") == "broken":
    sys.exit(1)
if sets.get("method.stepsize", 0) >= 1.0:  # "diverges": the binary gives up without a summary
    print("LAPACK sgesdd failed to converge", file=sys.stderr); sys.exit(1)
if sets.get("run.method") == "bad-input":
    print("run.method: unknown value", file=sys.stderr); sys.exit(2)
speed = {"fast": 4.0, "slow": 1.0, "never": 0.0}.get(sets.get("run.method"), 2.0) / (1 + sets.get("heterogeneity.power", 0))
if sets.get("run.method") == "slow":
    speed /= (1 + sets.get("heterogeneity.power", 0))  # slower still as p grows: the speedup grows
seed = sets.get("run.seed", 0)
budget = sets.get("run.time_budget_s", 60.0)
t = (10.0 / speed) * (1 + 0.01 * seed) if speed > 0 else None
if t is not None and t > budget:
    t = None
final = abs(math.log10(sets.get("method.stepsize", 0.05) / 0.05)) + 0.001
# FAKE_NUMERICS: another machine's last bits, as a factor on the final loss that depends on the threshold
final *= 1 + float(os.environ.get("FAKE_NUMERICS", "0")) * (sets.get("method.threshold", 0) % 3 - 1)
accuracy = sets.get("fake.accuracy", False)
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "eval.csv"), "w") as f:
    f.write("time_s,k,loss,grad_dual_norm" + (",accuracy" if accuracy else "") + "\n")
    for s in range(int(budget) + 1):
        loss = 100.0 * (0.5 ** (s * speed)) if speed > 0 else 100.0
        f.write(f"{float(s)},{s},{max(loss, 100.0 * final)},1" + (f",{0.89 * min(1, s / t) if t else 0.5}"
                                                                   if accuracy else "") + "\n")
summary = {"method": sets.get("run.method"), "initial_loss": 100.0, "final_loss": 100.0 * final,
           "train_time_s": budget,
           "time_to_relative_target": {k: t for k in ["0.1", "0.01", "0.001", "0.0001", "1e-06"]}}
if sets.get("fake.stop") == "signal":  # stopped before its stop rule (preempted), yet exit 0
    summary["stop_reason"] = "signal"
if accuracy:
    summary["time_to_accuracy"] = {"0.8": t and t / 2, "0.85": t and 0.75 * t, "0.88": t, "0.9": None}
    summary["final_accuracy"], summary["best_accuracy"] = 0.89 if t else 0.5, 0.89 if t else 0.5
json.dump(summary, open(os.path.join(out, "summary.json"), "w"))
'''


# Workspaces in memory where there is a tmpfs: the sweep tool fsyncs every file it writes (point.json and
# status.json of each of the stand-in's many runs), and on a disk shared with builds that is most of the time.
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


class Workspace(unittest.TestCase):
    """A temporary directory with a base config, a fake binary and helpers to write specs."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="test_sweep.", dir=SCRATCH)
        self.dir = Path(self._tmp.name)
        write(self.dir / "base.toml", "[run]\nworkers = 4\n")
        self.binary = write(self.dir / "bin" / "ringmaster", FAKE)
        self.binary.chmod(0o755)

    def tearDown(self):
        self._tmp.cleanup()

    def spec(self, text: str, name: str = "s.toml") -> Spec:
        return load_spec(write(self.dir / name, text))

    def calls(self) -> list[dict]:
        log = self.dir / "bin" / "calls.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def run_phase(self, spec, phase, jobs=1):
        with contextlib.redirect_stderr(io.StringIO()):
            return run_phase(spec, phase, self.dir / "sweep", str(self.binary), "mpirun", jobs)

    def spec_error(self, text: str) -> tuple[Path, str]:
        """`sweep.py count` on a bad spec: exit 2 with one line on stderr. Returns (the spec's path, the line)."""
        path = write(self.dir / "bad.toml", text)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = sweep.main(["count", str(path), "--phase", "tune"])
        self.assertEqual(code, 2)
        line = err.getvalue().strip()
        self.assertEqual(len(line.splitlines()), 1)
        return path, line

    def assert_report_target(self, md: str, target_text: str, reference: str = "fast") -> None:
        """The report's headline times, speedups and fastest methods are at the target so written."""
        for heading in (f"## Time to {target_text} (s)", f"## Speedup of `{reference}` at {target_text}",
                        f"Fastest to {target_text}"):
            self.assertIn(heading, md)

    def fabricate_run(self, directory: Path, summary: dict, losses: list[tuple[float, float]], spec=None,
                      point=None) -> Path:
        """A run directory written by hand: summary.json, eval.csv with these (time_s, loss) rows (the
        columns of a language model's eval.csv), and point.json when it is a spec's point (then finished)."""
        write(directory / "summary.json", json.dumps(summary))
        write(directory / "eval.csv", "time_s,k,loss,grad_dual_norm,train_loss\n"
              + "".join(f"{t!r},{k},{loss!r},1,\n" for k, (t, loss) in enumerate(losses)))
        if point is not None:
            write(directory / "point.json", json.dumps(point_record(spec, point)))
        return directory

    def compare_and_report(self, spec):
        """Runs the comparison phase and writes the report and plots: (report dir, PNGs, report CSV rows)."""
        self.run_phase(spec, "compare")
        with contextlib.redirect_stderr(io.StringIO()):
            report = aggregate(spec, self.dir / "sweep")
            pngs = plot(spec, self.dir / "sweep")
        with open(report / f"{spec.name}.csv") as f:
            return report, pngs, list(csv.DictReader(f))


GRID = """
[sweep]
config = "base.toml"
[set]
"run.time_budget_s" = 100.0
[grid]
"run.method" = ["fast", "slow"]
"heterogeneity.power" = [0.0, 1.0]
"run.seed" = [0, 1, 2]
"""


class GridTest(Workspace):
    def test_product_in_spec_order_first_axis_slowest(self):
        points = compare_points(self.spec(GRID))
        self.assertEqual(len(points), 2 * 2 * 3)
        self.assertEqual([p.index for p in points], list(range(12)))
        self.assertEqual(points[0].name, "method=fast,power=0,seed=0")
        self.assertEqual(points[1].name, "method=fast,power=0,seed=1")
        self.assertEqual(points[3].name, "method=fast,power=1,seed=0")
        self.assertEqual(points[11].name, "method=slow,power=1,seed=2")
        # [set] first, then the grid values: a later --set wins
        self.assertEqual(points[4].overrides, [("run.time_budget_s", 100.0), ("run.method", "fast"),
                                               ("heterogeneity.power", 1.0), ("run.seed", 1)])
        self.assertEqual(len({p.name for p in points}), 12)

    def test_linked_axis_moves_keys_together(self):
        spec = self.spec("""
            [sweep]
            config = "base.toml"
            [grid]
            "run.method" = ["a", "b"]
            heterogeneity = [{ "heterogeneity.power" = 0.0, "run.time_budget_s" = 30.0 },
                             { "heterogeneity.power" = 1.5, "run.time_budget_s" = 240.0 }]
            """)
        points = compare_points(spec)
        self.assertEqual(len(points), 4)
        self.assertEqual(points[1].labels["heterogeneity.power"], 1.5)
        self.assertEqual(points[1].labels["run.time_budget_s"], 240.0)
        self.assertEqual(points[1].name, "method=a,power=1.5,time_budget_s=240")
        self.assertEqual(spec.report.columns, "heterogeneity.power")

    def test_names_keep_full_keys_when_short_ones_collide(self):
        spec = self.spec("""
            [sweep]
            config = "base.toml"
            [grid]
            "objective.noise" = [0.1]
            "heterogeneity.noise" = ["none", "halfnormal"]
            """)
        names = [p.name for p in compare_points(spec)]
        self.assertEqual(names[1], "objective.noise=0.1,heterogeneity.noise=halfnormal")

    def test_values_are_passed_as_toml(self):
        self.assertEqual(format_value(True), "true")
        self.assertEqual(format_value(3), "3")
        self.assertEqual(format_value(1e-5), "1e-05")
        self.assertEqual(format_value("sync"), '"sync"')
        self.assertEqual(format_value([1.0, 2.5]), "[1.0, 2.5]")
        import tomllib
        for v in (True, 3, 1e-5, 0.1, "a b", [1.0, 2.5]):
            self.assertEqual(tomllib.loads("v = " + format_value(v))["v"], v)

    def test_run_commands(self):
        spec = self.spec(GRID)
        p = compare_points(spec)[0]
        cmd = run_command(spec, p, Path("/x"), "rm", "mpirun")
        self.assertEqual(cmd[:2], ["rm", "simulate"])
        self.assertIn("run.method=\"fast\"", cmd)
        self.assertEqual(cmd[-3:], ["--out", "/x", "--force"])
        self.assertFalse(any(a.startswith("sim.threads") for a in cmd))
        # Side by side, simulations share the cores out (sim.threads), before the point's own overrides.
        threaded = run_command(spec, p, Path("/x"), "rm", "mpirun", threads=1)
        self.assertEqual(threaded[2:6], ["-c", str(spec.config), "--set", "sim.threads=1"])
        self.assertEqual(threaded[6:], cmd[4:])
        spec.engine = "train"  # 4 workers in base.toml: 5 ranks
        self.assertEqual(run_command(spec, p, Path("/x"), "rm", "mpirun")[:5],
                         ["mpirun", "--oversubscribe", "-np", "5", "rm"])
        self.assertEqual(run_command(spec, p, Path("/x"), "rm", "srun")[:6],
                         ["srun", "--mpi=pmix", "--overcommit", "-n", "5", "rm"])

    def test_extends_merges_tables_over_the_parent(self):
        write(self.dir / "sub" / "parent.toml", """
            [sweep]
            name = "parent"
            config = "../base.toml"
            [set]
            "run.workers" = 8
            "run.time_budget_s" = 10.0
            [grid]
            "run.method" = ["a", "b"]
            "run.seed" = [0, 1]
            [tune.grid.a]
            "method.stepsize" = [0.1, 0.2]
            """)
        spec = self.spec("""
            [sweep]
            extends = "sub/parent.toml"
            [set]
            "run.time_budget_s" = 20.0
            [tune]
            set = { "run.time_budget_s" = 5.0 }
            """, "child.toml")
        self.assertEqual(spec.name, "child")  # not inherited
        self.assertEqual(spec.config, (self.dir / "base.toml").resolve())  # relative to the parent
        self.assertEqual(spec.set, {"run.workers": 8, "run.time_budget_s": 20.0})
        self.assertEqual([a.name for a in spec.axes], ["run.method", "run.seed"])
        self.assertEqual(list(spec.tune.grids), ["a"])
        self.assertEqual(spec.tune.set, {"run.time_budget_s": 5.0})
        write(self.dir / "loop.toml", '[sweep]\nextends = "loop.toml"\n')
        with self.assertRaises(SpecError) as e:
            load_spec(self.dir / "loop.toml")
        self.assertIn("cycle", str(e.exception))

    def test_bad_specs_are_refused_with_the_reason(self):
        cases = {
            '[sweep]\nconfig = "base.toml"\n[grid]\nmethod = [1]\n': "not a configuration key",
            '[sweep]\nconfig = "base.toml"\n[grid]\n"run.seed" = []\n': "non-empty list",
            '[sweep]\nconfig = "nope.toml"\n': "no such file",
            '[sweep]\nconfig = "base.toml"\nengine = "gpu"\n': "simulate or train",
            '[sweep]\nconfig = "base.toml"\n[grid]\n"run.seed" = [1]\nx = [{"run.seed" = 2}]\n': "two grid axes",
            '[sweep]\nconfig = "base.toml"\n[grid]\n"run.method" = ["a"]\n[tune.grid.b]\n"method.stepsize" = [1]\n':
                "not a value of run.method",
            '[sweep]\nconfig = "base.toml"\n[grdi]\n': "unknown section",
            '[sweep]\nconfig = "base.toml"\n[set]\n"run.seed" = nan\n': "not finite",
            '[sweep]\nconfig = "base.toml"\n[report]\ntarget = "0.5"\n': "report.target",
            '[sweep]\nconfig = "base.toml"\n[report]\ntie = -1\n': "report.tie must be a finite number ≥ 0",
            '[sweep]\nconfig = "base.toml"\n[check]\ntime_factor = 0.5\n': "check.time_factor must be a finite factor ≥ 1",
            '[sweep]\nconfig = "base.toml"\n[check]\ntargets = ["0.5"]\n': "check.targets",
            '[sweep]\nconfig = "base.toml"\n[check]\nslack = 2\n': "[check] slack: unknown key",
        }
        for text, message in cases.items():
            with self.subTest(text=text):
                with self.assertRaises(SpecError) as e:
                    self.spec(text)
                self.assertIn(message, str(e.exception))


TUNED = GRID + """
[tune]
seeds = [100, 101]
set = { "run.time_budget_s" = 50.0 }
[tune.grid.fast]
"method.stepsize" = [0.01, 0.05, 0.2]
"method.threshold" = [2, 4]
[report]
reference = "fast"
"""


class TuningTest(Workspace):
    def test_three_tuning_seeds_by_default(self):
        spec = self.spec(TUNED.replace("seeds = [100, 101]\n", ""))
        self.assertEqual(spec.tune.seeds, [100, 101, 102])
        self.assertEqual({p.labels["run.seed"] for p in tune_points(spec)}, {100, 101, 102})
        self.assertEqual((spec.tune.tie, spec.report.tie, spec.check.time_factor, spec.check.targets),
                         (2.0, 2.0, 1.25, ["0.001"]))

    def test_tuning_points(self):
        spec = self.spec(TUNED)
        points = tune_points(spec)
        # only "fast" has a grid: 2 powers × 3 stepsizes × 2 thresholds × 2 seeds
        self.assertEqual(len(points), 2 * 3 * 2 * 2)
        p = points[0]
        self.assertEqual(p.name, "method=fast,power=0,stepsize=0.01,threshold=2,seed=100")
        self.assertEqual(p.overrides[-1], ("run.time_budget_s", 50.0))  # tune.set last: it wins
        self.assertEqual(dict(p.overrides)["run.seed"], 100)
        self.assertEqual({q.group for q in points}, {
            group_key("fast", {"heterogeneity.power": 0.0}),
            group_key("fast", {"heterogeneity.power": 1.0})})

    def test_statistic_is_the_mean_log_loss_and_ties_are_within_noise(self):
        s = score_of([1e-3, 1e-2, 1e-1])
        self.assertAlmostEqual(s.mean, -2.0)
        self.assertAlmostEqual(s.std, 1.0)  # sample std of -3, -2, -1
        self.assertAlmostEqual(s.stderr, 1.0 / math.sqrt(3))
        self.assertAlmostEqual(s.geomean, 1e-2)
        self.assertAlmostEqual(s.spread, 10.0)
        self.assertEqual(score_of([1e-3, math.inf]).mean, math.inf)
        best = score_of([10 ** -3.0, 10 ** -3.1, 10 ** -2.9])  # mean -3, std 0.1, se 0.0577
        # within 2 · sqrt(2) · 0.0577 = 0.163 of the best mean: a tie; 0.3 above it: not
        self.assertTrue(within_noise(best, score_of([10 ** -2.9, 10 ** -3.0, 10 ** -2.8]), 2.0))
        self.assertFalse(within_noise(best, score_of([10 ** -2.7, 10 ** -2.8, 10 ** -2.6]), 2.0))
        self.assertFalse(within_noise(best, score_of([10 ** -2.9, 10 ** -3.0, 10 ** -2.8]), 1.0))
        self.assertFalse(within_noise(best, score_of([math.inf]), 2.0))
        # one run each: no spread, so only an equal score ties
        self.assertTrue(within_noise(score_of([1e-3]), score_of([1e-3]), 2.0))
        self.assertFalse(within_noise(score_of([1e-3]), score_of([1.001e-3]), 2.0))

    def test_choice_is_robust_to_one_lucky_seed_and_reports_ties(self):
        spec = self.spec(TUNED.replace("seeds = [100, 101]", "seeds = [100, 101, 102]"))
        points = [p for p in tune_points(spec) if p.labels["heterogeneity.power"] == 0.0]
        # stepsize 0.2 is the lowest on seed 100 (lucky) but the worst on average; 0.01 and 0.05 differ
        # by less than their spread: a tie. Threshold 4 multiplies the loss by 1.5 on every seed: outside
        # the noise of threshold 2 with the same stepsize.
        loss = {0.01: [2.2e-3, 1.8e-3, 2.0e-3], 0.05: [1.6e-3, 2.3e-3, 1.9e-3], 0.2: [1e-3, 1e-2, 1e-2]}
        summaries = {p.index: {"initial_loss": 1.0, "final_loss": loss[p.params["method.stepsize"]][
            p.labels["run.seed"] - 100] * (1 + 0.5 * (p.params["method.threshold"] == 4))} for p in points}
        (group,) = choose(points, summaries).values()
        self.assertEqual(group["lowest"], {"method.stepsize": 0.05, "method.threshold": 2})
        # the tie: the lowest mean, 0.01 (within noise of it), and 0.2, whose one lucky seed makes its
        # spread so wide that it is within noise too; the choice is the first of them in grid order
        self.assertEqual(group["chosen"], {"method.stepsize": 0.01, "method.threshold": 2})
        self.assertEqual(group["ties"], [{"method.stepsize": 0.05, "method.threshold": 2},
                                         {"method.stepsize": 0.2, "method.threshold": 2},
                                         {"method.stepsize": 0.2, "method.threshold": 4}])
        self.assertAlmostEqual(group["score"], (2.2e-3 * 1.8e-3 * 2.0e-3) ** (1 / 3))
        self.assertGreater(group["spread"], 1.0)
        self.assertEqual(group["range"], [1.8e-3, 2.2e-3])
        self.assertEqual(sum(c["tie"] for c in group["candidates"]), 4)
        (narrow,) = choose(points, summaries, tie=0.0).values()
        self.assertEqual(narrow["ties"], [])  # tie = 0: only equal means tie
        self.assertEqual(narrow["chosen"], {"method.stepsize": 0.05, "method.threshold": 2})  # the lowest

    def test_choice_is_the_lowest_final_loss_ties_to_the_first(self):
        spec = self.spec(TUNED)
        points = [p for p in tune_points(spec) if p.labels["heterogeneity.power"] == 0.0]
        loss = {0.01: 0.5, 0.05: 0.1, 0.2: 0.1}
        summaries = {p.index: {"initial_loss": 10.0, "final_loss": 10.0 * loss[p.params["method.stepsize"]]}
                     for p in points}
        choice = choose(points, summaries)
        (group,) = choice.values()
        # 0.05 and 0.2 tie; thresholds 2 and 4 tie: the first in grid order wins
        self.assertEqual(group["chosen"], {"method.stepsize": 0.05, "method.threshold": 2})
        self.assertAlmostEqual(group["score"], 0.1)
        self.assertEqual(len(group["candidates"]), 6)

    def test_diverged_runs_never_win_and_scores_are_geometric_means(self):
        self.assertEqual(tuning_score([0.1, math.inf]), math.inf)
        self.assertEqual(relative_final_loss({"initial_loss": 1.0, "final_loss": float("nan")}), math.inf)
        self.assertEqual(relative_final_loss({"initial_loss": 1.0}), math.inf)
        self.assertAlmostEqual(tuning_score([0.01, 1.0]), 0.1)
        spec = self.spec(TUNED)
        points = [p for p in tune_points(spec) if p.labels["heterogeneity.power"] == 0.0]
        summaries = {p.index: {"initial_loss": 1.0, "final_loss": (
            float("nan") if p.params["method.stepsize"] == 0.2 else p.params["method.stepsize"])} for p in points}
        (group,) = choose(points, summaries).values()
        self.assertEqual(group["chosen"]["method.stepsize"], 0.01)

    def test_missing_tuning_runs_are_named(self):
        spec = self.spec(TUNED)
        points = tune_points(spec)
        summaries = {p.index: {"initial_loss": 1, "final_loss": 1} for p in points[1:]}
        with self.assertRaises(SpecError) as e:
            choose(points, summaries)
        self.assertIn(points[0].name, str(e.exception))

    def test_tune_then_compare_uses_the_chosen_values(self):
        spec = self.spec(TUNED)
        self.assertEqual(self.run_phase(spec, "tune"), [])
        write_tuned(spec, self.dir / "sweep")
        record = json.loads((self.dir / "sweep" / "tuned.json").read_text())
        for g in record["groups"].values():
            self.assertEqual(g["chosen"], {"method.stepsize": 0.05, "method.threshold": 2})
        points = phase_points(spec, "compare", self.dir / "sweep")
        fast = [p for p in points if p.labels["run.method"] == "fast"]
        slow = [p for p in points if p.labels["run.method"] == "slow"]
        self.assertTrue(all(p.params == {"method.stepsize": 0.05, "method.threshold": 2} for p in fast))
        self.assertTrue(all(p.params == {} for p in slow))  # no grid: the base config's values
        self.assertEqual(self.run_phase(spec, "compare"), [])
        calls = self.calls()[-12:]
        self.assertTrue(all(c["method.stepsize"] == 0.05 for c in calls if c["run.method"] == "fast"))
        self.assertTrue(all("method.stepsize" not in c for c in calls if c["run.method"] == "slow"))

    def test_failed_tuning_runs_score_inf_and_are_recorded(self):
        spec = self.spec(TUNED.replace("[0.01, 0.05, 0.2]", "[0.01, 0.05, 2.0]"))
        failed = self.run_phase(spec, "tune")
        self.assertEqual(len(failed), 2 * 2 * 2)  # stepsize 2.0: both powers, thresholds and seeds
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(self.run_phase(spec, "tune"), failed)  # failed points are not finished: run again
        choices = write_tuned(spec, self.dir / "sweep")
        for g in choices.values():
            self.assertEqual(g["chosen"]["method.stepsize"], 0.05)
            worst = next(c for c in g["candidates"] if c["params"]["method.stepsize"] == 2.0)
            self.assertEqual(worst["score"], math.inf)
            self.assertEqual(len(worst["failed"]), 2)  # the two tuning seeds
        record = json.loads((self.dir / "sweep" / "tuned.json").read_text())
        self.assertEqual(len(record["failed_runs"]), 8)
        self.assertEqual(record["failed_runs"][0]["exit_code"], 1)
        # a point that never ran is still an error, not a silent +inf
        directory = point_dir(self.dir / "sweep", tune_points(spec)[0])
        for f in directory.iterdir():
            f.unlink()
        directory.rmdir()
        with self.assertRaises(SpecError):
            write_tuned(spec, self.dir / "sweep")

    def test_compare_without_tuned_json_is_a_clear_error(self):
        spec = self.spec(TUNED)
        with self.assertRaises(SpecError) as e:
            phase_points(spec, "compare", self.dir / "sweep")
        self.assertIn("tuned.json", str(e.exception))


class SkipFinishedTest(Workspace):
    def test_rerun_skips_finished_points_and_redoes_unfinished_and_stale_ones(self):
        spec = self.spec(GRID)
        self.assertEqual(self.run_phase(spec, "compare"), [])
        self.assertEqual(len(self.calls()), 12)
        self.assertEqual(self.run_phase(spec, "compare"), [])
        self.assertEqual(len(self.calls()), 12)  # nothing ran again

        points = compare_points(spec)
        (point_dir(self.dir / "sweep", points[3]) / "summary.json").unlink()  # crashed mid-run
        self.run_phase(spec, "compare")
        self.assertEqual(len(self.calls()), 13)

        # stopped by a signal (the sweep killed, the run told to stop): the binary writes summary.json with
        # stop_reason "signal" after its final checkpoint; the run did not reach its stop rule, so it is
        # not finished and runs again
        summary_path = point_dir(self.dir / "sweep", points[5]) / "summary.json"
        summary = json.loads(summary_path.read_text())
        summary["stop_reason"] = "signal"
        summary_path.write_text(json.dumps(summary))
        self.assertFalse(is_finished(spec, points[5], point_dir(self.dir / "sweep", points[5])))
        self.run_phase(spec, "compare")
        self.assertEqual(len(self.calls()), 14)
        self.assertTrue(is_finished(spec, points[5], point_dir(self.dir / "sweep", points[5])))

        # the spec changed for some points: they are stale and run again, the others are kept
        spec2 = self.spec(GRID.replace('"run.seed" = [0, 1, 2]', '"run.seed" = [0, 1, 2, 3]'))
        self.run_phase(spec2, "compare")
        self.assertEqual(len(self.calls()), 14 + 4)
        spec3 = self.spec(GRID.replace("100.0", "90.0"))
        self.run_phase(spec3, "compare")
        self.assertEqual(len(self.calls()), 18 + 12)  # every point's overrides changed

        # the base config changed: every point is stale
        write(self.dir / "base.toml", "[run]\nworkers = 5\n")
        self.run_phase(spec3, "compare", jobs=2)
        self.assertEqual(len(self.calls()), 30 + 12)

    def test_point_by_index_as_an_array_task_does(self):
        spec_path = write(self.dir / "s.toml", GRID)
        args = ["point", str(spec_path), "--phase", "compare", "5", "--dir", str(self.dir / "sweep"),
                "--binary", str(self.binary)]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(sweep.main(args), 0)
            self.assertEqual(sweep.main(args), 0)
        self.assertIn("done", out.getvalue())
        self.assertIn("already finished", out.getvalue())
        self.assertEqual(len(self.calls()), 1)
        self.assertEqual(self.calls()[0]["run.seed"], 2)
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(sweep.main(args[:4] + ["12"] + args[5:]), 2)  # out of range: bad input

    def test_failures_are_reported_and_bad_input_stops_the_phase(self):
        spec = self.spec(GRID.replace('["fast", "slow"]', '["broken", "fast"]'))
        failed = self.run_phase(spec, "compare")
        self.assertEqual(len(failed), 6)
        self.assertFalse(any(is_finished(spec, p, point_dir(self.dir / "sweep", p)) for p in failed))
        spec = self.spec(GRID.replace('["fast", "slow"]', '["bad-input", "fast"]'), "bad.toml")
        before = len(self.calls())
        failed = self.run_phase(spec, "compare")
        self.assertEqual(len(failed), 1)
        self.assertEqual(len(self.calls()) - before, 1)


class AggregationTest(Workspace):
    def test_stat(self):
        s = stat([1.0, 2.0, 3.0])
        self.assertEqual((s.n, s.reached, s.mean, s.min, s.max), (3, 3, 2.0, 1.0, 3.0))
        self.assertAlmostEqual(s.std, 1.0)  # sample standard deviation
        s = stat([1.0, None, 3.0], cap=[10.0, 10.0, 10.0])
        self.assertFalse(s.complete)
        self.assertEqual(s.mean, math.inf)
        self.assertEqual(s.bound, (1 + 10 + 3) / 3)
        self.assertEqual(stat([5.0]).std, 0.0)
        self.assertEqual(stat([None, math.inf], cap=[4.0, 6.0]).bound, 5.0)

    def test_speedup_and_its_growth(self):
        ref = Group({}, [], [])
        ref.times = {"0.001": stat([2.0, 4.0])}
        base = Group({}, [], [])
        base.times = {"0.001": stat([6.0, 18.0])}
        s = speedup(ref, base, "0.001", None)
        self.assertEqual((s.value, s.lower_bound), (4.0, False))  # ratio of the means: 12 / 3
        base.times = {"0.001": stat([6.0, None], cap=[30.0, 30.0])}
        s = speedup(ref, base, "0.001", None)
        self.assertEqual((s.value, s.lower_bound), (6.0, True))
        ref.times = {"0.001": stat([None, 4.0], cap=[30.0, 30.0])}
        self.assertFalse(speedup(ref, base, "0.001", None).defined)

        def sp(v, lower=False):
            return Speedup(v, lower, v, v, True)
        self.assertEqual(grows([sp(1), sp(2), sp(3)]), "yes")
        self.assertEqual(grows([sp(1), sp(3), sp(2)]), "no")
        self.assertEqual(grows([sp(1), sp(2, True)]), "yes")  # true value ≥ 2 > 1
        self.assertEqual(grows([sp(2, True), sp(3)]), "unclear")
        self.assertEqual(grows([sp(1), Speedup(math.nan, False, 0, 0, False)]), "—")

    def test_report_tables_and_plots_from_runs(self):
        spec = self.spec(GRID + '[report]\nreference = "fast"\n')
        report, pngs, rows = self.compare_and_report(spec)
        self.assertEqual(len(rows), 4)  # method × p; seeds are aggregated
        row = next(r for r in rows if r["run.method"] == "slow" and r["heterogeneity.power"] == "1.0")
        # fake: slow at p = 1 needs 10 / (1 / 2 / 2) · (1 + 0.01 · seed) = 40, 40.4, 40.8
        self.assertAlmostEqual(float(row["t_0.001_mean"]), 40.4)
        self.assertAlmostEqual(float(row["t_0.001_std"]), 0.4)
        self.assertEqual(row["t_0.001_reached"], "3")
        with open(report / "s-speedup.csv") as f:
            speedups = list(csv.DictReader(f))
        by_p = {r["heterogeneity.power"]: float(r["speedup"]) for r in speedups}
        self.assertAlmostEqual(by_p["0.0"], 4.0)  # 10 / 2.5
        self.assertAlmostEqual(by_p["1.0"], 8.0)  # 40.4 / 5.05
        md = (report / "s.md").read_text()
        self.assertIn("| slow | 4× | 8× | yes |", md)
        self.assertIn("| fast | 2.52 ± 0.025 | 5.05 ± 0.05 |", md)
        # final loss: the fake ends at 0.001 of the initial loss whatever the method
        self.assertIn("| slow | 0.001 ± 0 | 0.001 ± 0 |", md)
        self.assertIn("| slow | 1× | 1× | no |", md)
        for p in pngs:
            self.assertEqual(p.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")

    def test_unreached_targets_are_reported_as_such(self):
        spec = self.spec(GRID.replace('["fast", "slow"]', '["fast", "never"]') + '[report]\nreference = "fast"\n')
        self.run_phase(spec, "compare")
        with contextlib.redirect_stderr(io.StringIO()):
            report = aggregate(spec, self.dir / "sweep")
        md = (report / "s.md").read_text()
        self.assertIn("| never | not reached (0/3) | not reached (0/3) |", md)
        self.assertIn("| never | ≥ 39.6× | ≥ 19.8× | unclear |", md)  # 100 s budget / 2.525 s, / 5.05 s: both bounds


REGIME = """
[sweep]
config = "base.toml"
[grid]
"run.method" = ["fast", "slow", "never"]
regime = [
  { "run.workers" = 2, "heterogeneity.power" = 0.0, "run.time_budget_s" = 100.0 },
  { "run.workers" = 2, "heterogeneity.power" = 1.0, "run.time_budget_s" = 200.0 },
  { "run.workers" = 8, "heterogeneity.power" = 0.0, "run.time_budget_s" = 100.0 },
  { "run.workers" = 8, "heterogeneity.power" = 1.0, "run.time_budget_s" = 200.0 },
]
"lmo.vector_geometry" = ["l2", "sign"]
"run.seed" = [0, 1]
[tune]
seeds = [100]
protocol = ["final-loss", "time-to-target"]
target = "1e-3"
[tune.grid.fast]
"method.stepsize" = [0.01, 0.05]
[tune.grid.slow]
"method.stepsize" = [0.01, 0.05]
[report]
columns = "heterogeneity.power"
reference = "fast"
split = ["run.workers"]
heatmap = { x = "heterogeneity.power", y = "run.workers" }
curves = { "run.workers" = 8 }
"""


class RegimeSweepTest(Workspace):
    """Both tuning protocols in one sweep, tables split by a key of a linked axis, the heat map of the
    reference's speedup over the best baseline, and loss curves at one value of a splitting key: a tiny
    synthetic result set from the stand-in binary (times 10 / speed: fast 2.5 (1 + p), slow 10 (1 + p)²)."""

    def test_protocol_axis_heatmap_and_curves(self):
        spec = self.spec(REGIME)
        self.assertEqual(spec.tune.protocols, ["final-loss", "time-to-target"])
        self.assertEqual([a.name for a in spec.axes],
                         ["run.method", "regime", "lmo.vector_geometry", "tune.protocol", "run.seed"])
        # one set of tuning runs serves both protocols: 2 tuned methods × 4 regimes × 2 geometries × 2 steps
        self.assertEqual(len(tune_points(spec)), 32)
        self.run_phase(spec, "tune")
        with contextlib.redirect_stderr(io.StringIO()):
            write_tuned(spec, self.dir / "sweep")
        record = json.loads((self.dir / "sweep" / "tuned.json").read_text())
        self.assertEqual(record["tune_protocols"], ["final-loss", "time-to-target"])
        cell = {"run.workers": 8, "heterogeneity.power": 1.0, "run.time_budget_s": 200.0, "lmo.vector_geometry": "l2"}
        by_loss = record["groups"][group_key("slow", {**cell, "tune.protocol": "final-loss"})]
        self.assertEqual(by_loss["chosen"], {"method.stepsize": 0.05})  # the fake's lowest final loss
        by_time = record["groups"][group_key("slow", {**cell, "tune.protocol": "time-to-target"})]
        # the fake's time does not depend on the stepsize: every candidate ties, the first is chosen
        self.assertEqual((by_time["chosen"], by_time["target"]), ({"method.stepsize": 0.01}, "0.001"))
        # the comparison: every cell once per protocol, with that protocol's choice; the protocol is a label
        points = compare_points(spec, {k: g["chosen"] for k, g in record["groups"].items()})
        self.assertEqual(len(points), 3 * 4 * 2 * 2 * 2)
        self.assertTrue(all(k != "tune.protocol" for p in points for k, _ in p.overrides))
        slow = [p for p in points if p.method == "slow" and p.labels["run.workers"] == 8]
        self.assertEqual({(p.labels["tune.protocol"], p.params["method.stepsize"]) for p in slow},
                         {("final-loss", 0.05), ("time-to-target", 0.01)})
        report, pngs, rows = self.compare_and_report(spec)
        self.assertEqual(len(rows), 3 * 4 * 2 * 2)
        with open(report / "s-heatmap.csv") as f:
            cells = list(csv.DictReader(f))
        # 2 geometries × 2 protocols panels × 2 p × 2 n; best baseline: slow (never misses the target)
        self.assertEqual(len(cells), 16)
        for c in cells:
            self.assertEqual((c["best_baseline"], c["lower_bound"]), ("slow", "False"))
            self.assertAlmostEqual(float(c["speedup"]), 4.0 * (1 + float(c["heterogeneity.power"])))
        md = (report / "s.md").read_text()
        self.assertIn("## Speedup of `fast` over the best baseline at 1e-3", md)
        self.assertIn("| workers ↓ power → | 0 | 1 |", md)
        self.assertIn("| 8 | 4× (slow) | 8× (slow) |", md)
        self.assertIn("## Time to relative loss 1e-3 (s) — workers = 8, vector_geometry = sign, protocol = "
                      "time-to-target", md)
        self.assertIn("## Tuned hyperparameters (protocol `time-to-target`)", md)
        self.assertIn("## Tuned hyperparameters (protocol `final-loss`)", md)
        names = sorted(p.name for p in pngs)
        self.assertIn("s-heatmap.png", names)
        self.assertIn("s-loss-vs-time-workers=8-vector_geometry=l2-protocol=final-loss.png", names)
        self.assertNotIn("s-speedup.png", names)  # one line per baseline against p would mix n and geometry
        self.assertEqual(len([n for n in names if n.startswith("s-loss-vs-time")]), 4)
        for p in pngs:
            self.assertEqual(p.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")

    def test_bad_report_keys(self):
        for text, message in (
                (REGIME.replace('split = ["run.workers"]', 'split = ["run.wrokers"]'), "report.split: 'run.wrokers'"),
                (REGIME.replace('y = "run.workers"', 'z = "run.workers"'), "report.heatmap: expected"),
                (REGIME.replace('protocol = ["final-loss", "time-to-target"]', 'protocol = ["final-loss", "x"]'),
                 "tune.protocol must be"),
                (REGIME.replace('target = "1e-3"', ''), "tune.target is required"),
        ):
            with self.assertRaises(SpecError) as e:
                self.spec(text)
            self.assertIn(message, str(e.exception))


class FastestTest(unittest.TestCase):
    def test_fastest_and_the_methods_within_noise_of_it(self):
        # (method, mean, std, runs): se = 0.3 / sqrt(3) = 0.173, 2 se of a difference = 0.49
        entries = [("b", 10.0, 0.3, 3), ("a", 9.5, 0.3, 3), ("c", 12.0, 0.3, 3)]
        ranked, ties = fastest(entries, 2.0, 0.0)
        self.assertEqual([m for m, _ in ranked], ["a", "b", "c"])
        self.assertEqual(ties, [])  # b is 0.5 behind: just outside
        self.assertEqual(fastest(entries, 2.0, 0.1)[1], ["b"])  # plus one evaluation interval: inside
        self.assertEqual(fastest(entries, 20.0, 0.0)[1], ["b", "c"])
        self.assertEqual(fastest([], 2.0, 0.1), ([], []))


class CheckTest(Workspace):
    @staticmethod
    def row(t: float | None, reached: int = 3, final: float = 1e-3, std: float = 0.1, bound: float | None = None):
        return {"seeds": "3", "finished": "3", "t_0.001_mean": repr(t) if reached == 3 else "inf",
                "t_0.001_std": repr(std), "t_0.001_reached": str(reached),
                "t_0.001_bound": repr(bound if bound is not None else (t if reached == 3 else 60.0)),
                "final_rel_loss_mean": repr(final), "train_time_s": "60.0"}

    def table(self, cells: dict[tuple[str, str], dict[str, str]]) -> dict[str, dict[str, str]]:
        return {json.dumps({"run.method": m, "heterogeneity.power": p}, sort_keys=True): r
                for (m, p), r in cells.items()}

    def test_intervals(self):
        self.assertTrue(intervals_agree((10.0, 10.0), (12.0, 12.0), 1.25))
        self.assertFalse(intervals_agree((10.0, 10.0), (13.0, 13.0), 1.25))
        self.assertTrue(intervals_agree((58.0, 58.0), (60.0, math.inf), 1.25))  # just reached vs not reached
        self.assertFalse(intervals_agree((11.0, 11.0), (60.0, math.inf), 1.25))  # clearly reached vs not
        self.assertTrue(intervals_agree((60.0, math.inf), (40.0, math.inf), 1.25))  # both missed it

    def test_tuned_choice_may_move_only_within_a_reported_tie(self):
        a, b, c = {"method.stepsize": 0.01}, {"method.stepsize": 0.02}, {"method.stepsize": 0.04}
        group = json.dumps({"method": "m", "heterogeneity.power": 1.0})
        published = {group: {"chosen": a, "ties": [b]}}
        self.assertTrue(compare_tuned(published, {group: {"chosen": a, "ties": []}})[0].ok)
        self.assertTrue(compare_tuned(published, {group: {"chosen": b, "ties": []}})[0].ok)  # published tie
        self.assertTrue(compare_tuned({group: {"chosen": a, "ties": []}}, {group: {"chosen": c, "ties": [a]}})[0].ok)
        self.assertFalse(compare_tuned(published, {group: {"chosen": c, "ties": []}})[0].ok)

    def test_tables(self):
        spec = self.spec(GRID + '[report]\ntarget = "0.001"\n[check]\ntime_factor = 1.25\nfinal_loss_factor = 1.5\n')
        published = self.table({("fast", "0.0"): self.row(5.0), ("slow", "0.0"): self.row(8.0),
                                ("fast", "1.0"): self.row(5.0), ("slow", "1.0"): self.row(None, 0)})

        def changed(cells):
            regenerated = self.table({**{k: self.row(5.0) for k in [("fast", "0.0"), ("fast", "1.0")]},
                                      ("slow", "0.0"): self.row(8.0), ("slow", "1.0"): self.row(None, 0), **cells})
            return sorted((f.what, f.where) for f in compare_tables(spec, published, regenerated) if not f.ok)

        self.assertEqual(changed({}), [])
        self.assertEqual(changed({("slow", "0.0"): self.row(9.5)}), [])  # within 1.25
        self.assertEqual(changed({("slow", "0.0"): self.row(10.5)}), [("t(1e-3)", "slow power=0.0")])
        # slow now reaches the target at p = 1, long before the end: a method newly reaching it
        self.assertEqual(changed({("slow", "1.0"): self.row(20.0)}), [("t(1e-3)", "slow power=1.0")])
        self.assertEqual(changed({("slow", "1.0"): self.row(55.0)}), [])  # barely: within the factor of 60 s
        self.assertEqual(changed({("fast", "0.0"): self.row(5.0, final=2e-3)}), [("final loss", "fast power=0.0")])
        # the fastest changes: slow at 3.0 s vs fast 5.0 s ± 0.1 is not within noise (nor within one
        # evaluation interval, 1 s: the base config's default)
        self.assertEqual(changed({("slow", "0.0"): self.row(3.0)}),
                         [("fastest(1e-3)", "power=0.0"), ("t(1e-3)", "slow power=0.0")])
        # ... but with spreads that large it is: a winner within noise, accepted
        wide = {("slow", "0.0"): self.row(4.8, std=1.0), ("fast", "0.0"): self.row(5.0, std=1.0)}
        published.update(self.table(wide))
        self.assertEqual(changed({("slow", "0.0"): self.row(5.2, std=1.0), ("fast", "0.0"): self.row(4.9, std=1.0)}), [])

    def test_check_end_to_end_passes_on_noise_and_fails_on_a_changed_conclusion(self):
        spec = self.spec(TUNED)
        sweep_dir, published = self.dir / "sweep", self.dir / "published"
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(sweep.command_run(spec, sweep_dir, str(self.binary), "mpirun", 2, str(published),
                                               plots=False), 0)
        md = (published / "s.md").read_text()
        self.assertIn("‡", md.split("| fast |")[1].split("\n")[0])  # fast's choice is a tie: its times say so
        self.assertNotIn("‡", md.split("| slow |")[1].split("\n")[0])  # slow has nothing to tune
        record = json.loads((published / "s-tuned.json").read_text())
        for g in record["groups"].values():
            # thresholds do not matter to the fake: 2 and 4 tie exactly, 2 is first in grid order
            self.assertEqual(g["chosen"], {"method.stepsize": 0.05, "method.threshold": 2})
            self.assertEqual(g["ties"], [{"method.stepsize": 0.05, "method.threshold": 4}])
        # another machine: the last bits favour threshold 4, a reported tie
        os.environ["FAKE_NUMERICS"] = "0.01"
        try:
            out = io.StringIO()
            with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(out):
                code = sweep.main(["check", str(spec.path), "--published", str(published),
                                   "--dir", str(self.dir / "other"), "--binary", str(self.binary)])
        finally:
            del os.environ["FAKE_NUMERICS"]
        self.assertEqual(code, 0, out.getvalue())
        self.assertIn("threshold 4", out.getvalue())
        self.assertIn("a reported tie", out.getvalue())
        self.assertIn("passed", out.getvalue())
        # a published time that the regeneration misses by more than the factor: a changed conclusion
        with open(published / "s.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        rows[0]["t_0.001_mean"] = repr(float(rows[0]["t_0.001_mean"]) * 1.5)
        with open(published / "s.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        out = io.StringIO()
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(out):
            code = sweep.main(["check", str(spec.path), "--published", str(published), "--dir", str(sweep_dir),
                               "--no-run"])
        self.assertEqual(code, 1, out.getvalue())
        self.assertIn("CHANGED", out.getvalue())
        self.assertIn("FAILED", out.getvalue())


TIMED = GRID + """
[tune]
seeds = [100, 101, 102]
set = { "run.time_budget_s" = 50.0, "run.eval_every_s" = 1.0 }
protocol = "time-to-target"
target = "1e-3"
[tune.grid.fast]
"method.stepsize" = [0.01, 0.05, 0.2, 0.4]
"""


class TimeToTargetTuningTest(Workspace):
    """tune.protocol = "time-to-target": the choice from hand-built summaries (times in seconds, None:
    the run never reached the target; training time 50 s, evaluation every 1 s)."""

    def choose_by_times(self, times: dict[float, list], tie=2.0, resolution=1.0, failed=(), diverged=()):
        spec = self.spec(TIMED)
        points = [p for p in tune_points(spec) if p.labels["heterogeneity.power"] == 0.0]
        summaries, failed_codes = {}, {}
        for p in points:
            step, seed = p.params["method.stepsize"], p.labels["run.seed"]
            if (step, seed) in failed:
                summaries[p.index] = None
                failed_codes[p.index] = 1
                continue
            summaries[p.index] = {"initial_loss": 1.0, "train_time_s": 50.0,
                                  "final_loss": math.nan if (step, seed) in diverged else 1e-4,
                                  "time_to_relative_target": {"0.001": times[step][seed - 100]}}
        (group,) = choose(points, summaries, failed_codes, tie, spec.tune.target, resolution).values()
        return group

    def test_spec_keys(self):
        spec = self.spec(TIMED)
        self.assertEqual((spec.tune.protocol, spec.tune.target), ("time-to-target", "0.001"))
        self.assertEqual(eval_interval(spec, "tune"), 1.0)
        plain = self.spec(TUNED)
        self.assertEqual((plain.tune.protocol, plain.tune.target), ("final-loss", None))

    def test_clear_winner_among_those_that_reached_it_in_every_run(self):
        g = self.choose_by_times({0.01: [30, 31, 29], 0.05: [10, 10.5, 9.5], 0.2: [20, 21, 19],
                                  0.4: [None, None, None]})
        self.assertEqual((g["chosen"], g["lowest"], g["ties"]), ({"method.stepsize": 0.05},) * 2 + ([],))
        self.assertTrue(g["reached_every_run"])
        self.assertEqual((g["reached"], g["runs"]), (3, 3))
        self.assertAlmostEqual(g["time_mean"], 10.0)
        self.assertAlmostEqual(g["time_std"], 0.5)
        self.assertEqual(g["range"], [9.5, 10.5])
        self.assertEqual([c["times"] for c in g["candidates"]][3], [None, None, None])
        self.assertEqual([c["reached"] for c in g["candidates"]], [3, 3, 3, 0])

    def test_a_tie_within_noise_goes_to_the_first_in_grid_order(self):
        times = {0.01: [10.6, 10.4, 10.5], 0.05: [10, 10.5, 9.5], 0.2: [20, 21, 19], 0.4: [10, 10, 10]}
        g = self.choose_by_times(times)
        # 0.01 is 0.5 s slower than the lowest mean (0.05), within 2 se + one evaluation interval: a tie,
        # and first in grid order; 0.4 equals the lowest; 0.2 is 10 s slower: not a tie
        self.assertEqual(g["chosen"], {"method.stepsize": 0.01})
        self.assertEqual(g["lowest"], {"method.stepsize": 0.05})
        self.assertEqual(g["ties"], [{"method.stepsize": 0.05}, {"method.stepsize": 0.4}])
        self.assertEqual([c["tie"] for c in g["candidates"]], [True, True, False, True])
        # without the evaluation interval and the noise allowance only the equal means tie
        g = self.choose_by_times(times, tie=0.0, resolution=0.0)
        self.assertEqual((g["chosen"], g["ties"]), ({"method.stepsize": 0.05}, [{"method.stepsize": 0.4}]))

    def test_reaching_it_in_every_run_ranks_before_a_faster_mean_with_misses(self):
        # 0.01's mean with its miss at the full training time, (5 + 50 + 5) / 3 = 20, is lower than 0.05's 30
        g = self.choose_by_times({0.01: [5, None, 5], 0.05: [30, 30, 30], 0.2: [None] * 3, 0.4: [32, 32, 32]})
        self.assertEqual((g["chosen"], g["ties"]), ({"method.stepsize": 0.05}, []))
        self.assertTrue(g["reached_every_run"])
        first = g["candidates"][0]
        self.assertEqual((first["reached"], first["times"], first["tie"]), (2, [5, None, 5], False))
        self.assertAlmostEqual(first["time_mean"], 20.0)  # the miss at the full training time, 50 s

    def test_nobody_reached_it_in_every_run(self):
        g = self.choose_by_times({0.01: [None] * 3, 0.05: [1, None, None], 0.2: [30, 45, None],
                                  0.4: [20, None, 44]})
        # two runs each for 0.2 and 0.4: the lowest bound mean is 0.4's (20 + 44 + 50) / 3 = 38, and 0.2's
        # 41.7 is within noise of it; 0.05 reached it in one run only, so its lower 33.7 does not count
        self.assertFalse(g["reached_every_run"])
        self.assertEqual((g["reached"], g["runs"]), (2, 3))
        self.assertEqual(g["lowest"], {"method.stepsize": 0.4})
        self.assertEqual((g["chosen"], g["ties"]), ({"method.stepsize": 0.2}, [{"method.stepsize": 0.4}]))
        self.assertAlmostEqual(g["time_mean"], (30 + 45 + 50) / 3)
        self.assertEqual(g["range"], [30, math.inf])
        g = self.choose_by_times({0.01: [None] * 3, 0.05: [49, None, None], 0.2: [30, 45, None],
                                  0.4: [20, None, 44]}, tie=0.0, resolution=0.0)
        self.assertEqual((g["chosen"], g["ties"]), ({"method.stepsize": 0.4}, []))
        # nobody reached it at all: every one at the full training time, all tie, the first is chosen
        g = self.choose_by_times({s: [None] * 3 for s in (0.01, 0.05, 0.2, 0.4)})
        self.assertEqual((g["chosen"], g["reached"], g["reached_every_run"]), ({"method.stepsize": 0.01}, 0, False))
        self.assertEqual(len(g["ties"]), 3)
        self.assertEqual(g["time_mean"], 50.0)

    def test_diverged_and_failed_runs_never_reached_it(self):
        times = {0.01: [30, 30, 30], 0.05: [5, 5, 5], 0.2: [6, 6, 6], 0.4: [7, 7, 7]}
        # 0.05 passed the target at 5 s, then diverged in one run; 0.2's binary failed in one run
        g = self.choose_by_times(times, diverged={(0.05, 101)}, failed={(0.2, 102)})
        self.assertEqual((g["chosen"], g["ties"]), ({"method.stepsize": 0.4}, []))
        c005, c02 = g["candidates"][1], g["candidates"][2]
        self.assertEqual((c005["reached"], c005["times"], len(c005["diverged"])), (2, [5, None, 5], 1))
        self.assertIn("seed=101", c005["diverged"][0])
        self.assertEqual((c02["reached"], c02["times"], [f["exit_code"] for f in c02["failed"]]), (2, [6, 6, None], [1]))

    def test_the_resolution_of_a_time_is_each_cells_own_evaluation_interval(self):
        # a linked axis sets the horizon and the evaluation interval per cell (as configs/sweeps/regime.toml):
        # the tie allowance of a time is that cell's interval, not the base config's (here 20 s, which
        # would make 10 s and 13 s a tie everywhere)
        write(self.dir / "base.toml", "[run]\neval_every_s = 20.0\n")
        spec = self.spec(TIMED.replace('"heterogeneity.power" = [0.0, 1.0]', """heterogeneity = [
  { "heterogeneity.power" = 0.0, "run.eval_every_s" = 0.5 },
  { "heterogeneity.power" = 1.0, "run.eval_every_s" = 5.0 },
]""").replace(', "run.eval_every_s" = 1.0 }', " }"))
        points = tune_points(spec)
        self.assertEqual(sorted({overrides_interval(spec, p.overrides) for p in points}), [0.5, 5.0])
        self.assertEqual(eval_interval(spec, "tune"), 20.0)
        times = {0.01: [13.0] * 3, 0.05: [10.0] * 3, 0.2: [30.0] * 3, 0.4: [None] * 3}
        summaries = {p.index: {"initial_loss": 1.0, "train_time_s": 50.0, "final_loss": 1e-4,
                               "time_to_relative_target": {"0.001": times[p.params["method.stepsize"]][0]}}
                     for p in points}
        resolutions = {p.group: overrides_interval(spec, p.overrides) for p in points}
        chosen = choose(points, summaries, {}, 2.0, spec.tune.target, resolutions=resolutions)
        by_power = {g["group"]["heterogeneity.power"]: g for g in chosen.values()}
        # p = 0, every 0.5 s: 13 s is 3 s behind 10 s, no tie; p = 1, every 5 s: within one interval, a tie
        self.assertEqual((by_power[0.0]["chosen"], by_power[0.0]["ties"], by_power[0.0]["eval_every_s"]),
                         ({"method.stepsize": 0.05}, [], 0.5))
        self.assertEqual((by_power[1.0]["chosen"], by_power[1.0]["ties"], by_power[1.0]["eval_every_s"]),
                         ({"method.stepsize": 0.01}, [{"method.stepsize": 0.05}], 5.0))
        # the report's fastest-method lines and `check` take a column's interval from its grid labels
        self.assertEqual(labels_interval(spec, {"heterogeneity.power": 1.0, "run.eval_every_s": 5.0}), 5.0)
        self.assertEqual(labels_interval(spec, {"heterogeneity.power": 1.0}), 20.0)

    def test_tuned_json_report_and_check_under_the_time_protocol(self):
        # "never" never reaches the target: its choice says so; "fast" reaches it at 2.5 s whatever the
        # stepsize (the fake's time depends on method and p only): every candidate ties, the first is chosen
        spec = self.spec(TIMED.replace('["fast", "slow"]', '["fast", "never"]')
                         + '[tune.grid.never]\n"method.stepsize" = [0.01, 0.1]\n')
        self.run_phase(spec, "tune")
        with contextlib.redirect_stderr(io.StringIO()):
            write_tuned(spec, self.dir / "sweep")
        record = json.loads((self.dir / "sweep" / "tuned.json").read_text())
        self.assertEqual((record["tune_protocol"], record["target"], record["eval_every_s"]),
                         ("time-to-target", "0.001", 1.0))
        self.assertIn("reached (f − f*) / (f(X0) − f*) below 0.001 in every tuning run", record["protocol"])
        fast = record["groups"][group_key("fast", {"heterogeneity.power": 0.0})]
        self.assertEqual((fast["chosen"], fast["reached_every_run"]), ({"method.stepsize": 0.01}, True))
        self.assertEqual(fast["candidates"][1]["times"], [10.0 / 4.0 * (1 + 0.01 * s) for s in (100, 101, 102)])
        never = record["groups"][group_key("never", {"heterogeneity.power": 1.0})]
        self.assertEqual((never["chosen"], never["reached_every_run"], never["reached"]),
                         ({"method.stepsize": 0.01}, False, 0))
        self.run_phase(spec, "compare")
        with contextlib.redirect_stderr(io.StringIO()):
            report = aggregate(spec, self.dir / "sweep")
        md = (report / "s.md").read_text()
        self.assertIn("Protocol `time-to-target`", md)
        self.assertIn("| never | 1 | 0.01 | not reached (0/3) **not reached in every run** |", md)
        self.assertIn("the tuning minimized the time to relative loss 1e-3 instead", md)
        # sweep.py check under this protocol: itself passes; a final-loss choice is another conclusion
        published = self.dir / "published"
        with contextlib.redirect_stderr(io.StringIO()):
            publish(spec, self.dir / "sweep", published)
        mine = read_tuned_record(published / "s-tuned.json")
        self.assertEqual(mine["protocol"], "time-to-target 0.001")
        self.assertTrue(all(f.ok for f in compare_tuned(mine, read_tuned_record(self.dir / "sweep" / "tuned.json"))))
        findings = compare_tuned({**mine, "protocol": "final-loss"}, mine)
        self.assertEqual([(f.where, f.ok) for f in findings if not f.ok], [("protocol", False)])
        # a choice that moved within a reported tie of the time protocol is accepted; outside it, not
        key = group_key("fast", {"heterogeneity.power": 0.0})
        moved = {**mine, key: {"chosen": {"method.stepsize": 0.05}, "ties": []}}
        self.assertTrue(all(f.ok for f in compare_tuned(mine, moved)))
        outside = {**mine, key: {"chosen": {"method.stepsize": 0.3}, "ties": []}}
        self.assertFalse(all(f.ok for f in compare_tuned(mine, outside)))


class AccuracyTargetTest(Workspace):
    def test_accuracy_targets_are_parsed(self):
        spec = self.spec(TIMED.replace('target = "1e-3"', 'target = "accuracy:.88"')
                         + '[report]\ntarget = "accuracy:0.9"\n[check]\ntargets = ["0.01", "accuracy:0.8"]\n')
        self.assertEqual(spec.tune.target, "accuracy:0.88")
        self.assertEqual(spec.report.target, "accuracy:0.9")
        self.assertEqual(spec.check.targets, ["0.01", "accuracy:0.8"])
        self.assertEqual(time_to({"time_to_accuracy": {"0.88": 3.5}}, "accuracy:0.88"), 3.5)
        self.assertEqual(time_to({"time_to_accuracy": {"0.88": None}}, "accuracy:0.88"), math.inf)
        self.assertEqual(time_to({"time_to_relative_target": {"0.88": 1.0}}, "accuracy:0.88"), math.inf)
        self.assertEqual(time_to({"time_to_relative_target": {"0.001": 2.0}}, "0.001"), 2.0)
        self.assertEqual(time_to({"time_to_accuracy": {"0.001": 2.0}}, "0.001"), math.inf)

    def test_bad_targets_and_protocols_are_spec_errors_naming_file_and_key(self):
        base = GRID + '[tune]\n[tune.grid.fast]\n"method.stepsize" = [0.1]\n'
        cases = {
            base.replace("[tune]\n", '[tune]\nprotocol = "fastest"\n'): "tune.protocol must be",
            base.replace("[tune]\n", '[tune]\nprotocol = "time-to-target"\n'): "tune.target is required",
            base.replace("[tune]\n", '[tune]\ntarget = "0.001"\n'): "tune.target goes with",
            base.replace("[tune]\n", '[tune]\nprotocol = "time-to-target"\ntarget = "accuracy:0.7"\n'):
                "tune.target must be a relative target",
            base + '[report]\ntarget = "accuracy:x"\n': "report.target must be",
            base + '[report]\ntarget = "accuracy"\n': "report.target must be",
            base + '[report]\ntarget = "0.88"\n': "report.target must be",
            base + '[check]\ntargets = ["accuracy:0.95"]\n': "check.targets must be",
        }
        for text, message in cases.items():
            with self.subTest(text=text):
                path, line = self.spec_error(text)
                self.assertIn(message, line)
                self.assertIn(str(path), line)

    def test_report_columns_for_accuracy_targets(self):
        spec = self.spec(GRID.replace("[grid]", '"fake.accuracy" = true\n[grid]') + '[report]\nreference = "fast"\ntarget = "accuracy:0.88"\n'
                         '[check]\ntargets = ["accuracy:0.88", "0.001"]\n')
        sweep_dir = self.dir / "sweep"
        report, pngs, rows = self.compare_and_report(spec)
        row = next(r for r in rows if r["run.method"] == "slow" and r["heterogeneity.power"] == "1.0")
        # 0.88 at the fake's time, 40 · (1 + 0.01 · seed); 0.8 at half of it; 0.9 never
        self.assertAlmostEqual(float(row["t_accuracy:0.88_mean"]), 40.4)
        self.assertAlmostEqual(float(row["t_accuracy:0.8_mean"]), 20.2)
        self.assertAlmostEqual(float(row["t_accuracy:0.85_std"]), 0.3)
        self.assertEqual((row["t_accuracy:0.88_reached"], row["t_accuracy:0.9_reached"]), ("3", "0"))
        self.assertEqual((row["t_accuracy:0.9_mean"], row["t_accuracy:0.9_bound"]), ("inf", "100.0"))
        self.assertAlmostEqual(float(row["final_accuracy_mean"]), 0.89)
        self.assertAlmostEqual(float(row["t_0.001_mean"]), 40.4)  # the relative targets stay
        with open(report / "s-speedup.csv") as f:
            speedups = list(csv.DictReader(f))
        self.assertEqual({r["target"] for r in speedups}, {"accuracy:0.88"})
        self.assertAlmostEqual({r["heterogeneity.power"]: float(r["speedup"]) for r in speedups}["1.0"], 8.0)
        md = (report / "s.md").read_text()
        self.assert_report_target(md, "test accuracy ≥ 0.88")
        self.assertNotIn("## Time to relative loss", md)
        self.assertIn("evaluated test accuracy first reached at least a", md)
        self.assertIn("| t(test accuracy ≥ 0.9) s | final (f − f*) / (f(X0) − f*) | final test accuracy |", md)
        self.assertIn("| slow | 1 | 40.4 ± 0.4 | 40.4 ± 0.4 | 40.4 ± 0.4 | 40.4 ± 0.4 | 20.2 ± 0.2 | 30.3 ± 0.3 | "
                      "40.4 ± 0.4 | not reached (0/3) | 0.001 ± 0 | 0.89 ± 0 |", md)
        self.assertIn("![accuracy vs time](s-accuracy-vs-time.png)", md)
        self.assertEqual(sorted(p.name for p in pngs), ["s-accuracy-vs-time.png", "s-loss-vs-time.png", "s-speedup.png"])
        # the check compares accuracy targets as it does relative ones
        published = self.dir / "published"
        with contextlib.redirect_stderr(io.StringIO()):
            publish(spec, sweep_dir, published)
        findings = compare_tables(spec, read_table(published / "s.csv"), read_table(report / "s.csv"))
        self.assertIn("t(test accuracy ≥ 0.88)", {f.what for f in findings})
        self.assertTrue(all(f.ok for f in findings))
        slower = read_table(report / "s.csv")
        for r in slower.values():
            r["t_accuracy:0.88_mean"] = str(2 * float(r["t_accuracy:0.88_mean"]))
        changed = [f for f in compare_tables(spec, read_table(published / "s.csv"), slower) if not f.ok]
        self.assertEqual({f.what for f in changed}, {"t(test accuracy ≥ 0.88)"})

    def test_quadratic_runs_get_no_accuracy_columns(self):
        report, pngs, rows = self.compare_and_report(self.spec(GRID))
        self.assertFalse([k for k in rows[0] if "accuracy" in k])
        self.assertNotIn("accuracy", (report / "s.md").read_text())
        self.assertEqual([p.name for p in pngs], ["s-loss-vs-time.png"])


class LossTargetTest(Workspace):
    """Loss targets, "loss:2.2": the evaluated loss (eval.csv `loss`) at or below a value, for an objective
    whose f* is unknown (a language model's validation cross-entropy)."""

    def test_canonical_spelling(self):
        spec = self.spec(TIMED.replace('target = "1e-3"', 'target = "loss:3.0"')
                         + '[report]\ntarget = "loss:2.20"\n[check]\ntargets = ["loss:1e-1", "0.01", "loss:2.2"]\n')
        self.assertEqual((spec.tune.target, spec.report.target), ("loss:3", "loss:2.2"))
        self.assertEqual(spec.check.targets, ["loss:0.1", "0.01", "loss:2.2"])
        for text, canonical in (("loss:2", "loss:2"), ("loss:.5", "loss:0.5"), ("loss:1e-3", "loss:0.001"),
                                ("loss:1234567", "loss:1.23457e+06"), ("loss:0.25", "loss:0.25")):
            self.assertEqual(canonical_target(text, "here"), canonical)

    def test_malformed_loss_targets_are_one_line_spec_errors_naming_file_and_key(self):
        base = GRID + '[tune]\nprotocol = "time-to-target"\ntarget = "1e-3"\n[tune.grid.fast]\n"method.stepsize" = [0.1]\n'
        for bad in ("loss:x", "loss:-1", "loss:0", "loss:inf", "loss:nan", "loss:", "loss:1e400"):
            for key, text in (("report.target", base + f'[report]\ntarget = "{bad}"\n'),
                              ("check.targets", base + f'[check]\ntargets = ["0.01", "{bad}"]\n'),
                              ("tune.target", base.replace('target = "1e-3"', f'target = "{bad}"'))):
                with self.subTest(key=key, target=bad):
                    path, line = self.spec_error(text)
                    self.assertIn(f"{path}: {key} must be", line)
                    self.assertIn("loss target", line)
                    self.assertIn(repr(bad), line)

    def test_time_to_a_loss_target_is_the_first_evaluation_at_or_below_it(self):
        # NaN and -inf before any finite crossing; 2.5 exactly at 3 s, 2.2 exactly at 4.5 s
        losses = [(0.0, 5.5), (1.0, math.nan), (2.0, -math.inf), (3.0, 2.5), (4.5, 2.2), (6.0, 2.1), (7.0, math.inf),
                  (8.0, 2.05)]
        summary = {"initial_loss": 5.5, "final_loss": 2.05, "time_to_relative_target": {"0.001": 1.0}}
        run = read_summary(self.fabricate_run(self.dir / "run", summary, losses), eval_loss=True)
        self.assertEqual(time_to(run, "loss:2.5"), 3.0)  # the non-finite rows before it never count
        self.assertEqual(time_to(run, "loss:2.2"), 4.5)  # a row exactly at the value counts
        self.assertEqual(time_to(run, "loss:2.3"), 4.5)
        self.assertEqual(time_to(run, "loss:2.08"), 8.0)  # not the inf row at 7 s
        self.assertEqual(time_to(run, "loss:6"), 0.0)
        self.assertEqual(time_to(run, "loss:2"), math.inf)  # never reached
        self.assertEqual(time_to(run, "0.001"), 1.0)  # a relative target still comes from summary.json
        # without an eval.csv a run never reached a loss target
        (self.dir / "run" / "eval.csv").unlink()
        self.assertEqual(time_to(read_summary(self.dir / "run", eval_loss=True), "loss:6"), math.inf)

    def test_report_and_plots_with_a_loss_target(self):
        # The fake's eval.csv: loss 100 · 2^(−s · speed) at s = 0, 1, ..., floored at its final loss 0.1;
        # speed 4 / (1 + p) for fast, 1 / (1 + p)² for slow. So loss ≤ 1 (s · speed ≥ log2 100 = 6.64) at
        # s = 2 and 4 for fast, 7 and 27 for slow; loss ≤ 10 (s · speed ≥ 3.32) at 1, 2, 4, 14; loss ≤ 0.05
        # never. summary.json's relative times are others (2.5 (1 + p) · (1 + 0.01 seed) for fast).
        spec = self.spec(GRID + '[report]\nreference = "fast"\ntarget = "loss:1"\n'
                         '[check]\ntargets = ["loss:10", "loss:0.05", "loss:1.0"]\n')
        figures = {}
        write_figure = plots_module.write_figure

        def record(fig, path):  # what each saved figure's panels show
            figures[Path(path).name] = [(ax.get_ylabel(), ax.get_yscale(), [(list(line.get_ydata()), line.get_linestyle())
                                         for line in ax.get_lines()]) for ax in fig.axes if ax.get_lines()]
            return write_figure(fig, path)

        with mock.patch.object(plots_module, "write_figure", record):
            report, pngs, rows = self.compare_and_report(spec)
        row = {(r["run.method"], r["heterogeneity.power"]): r for r in rows}
        self.assertEqual([float(row["slow", "1.0"][f"t_loss:{v}_mean"]) for v in (10, 1)], [14.0, 27.0])
        self.assertEqual(row["slow", "1.0"]["t_loss:0.05_reached"], "0")
        self.assertEqual(float(row["fast", "0.0"]["t_loss:1_mean"]), 2.0)
        self.assertAlmostEqual(float(row["slow", "0.0"]["final_loss_mean"]), 0.1)
        self.assertFalse([k for k in rows[0] if k.startswith("t_0.") or k.startswith("t_1e")])  # no relative targets
        with open(report / "s-speedup.csv") as f:
            speedups = {r["heterogeneity.power"]: r for r in csv.DictReader(f)}
        self.assertEqual({r["target"] for r in speedups.values()}, {"loss:1"})
        # time to loss ≤ 1 of slow / fast's: 7 / 2 at p = 0, 27 / 4 at p = 1, on every seed
        for p, value in (("0.0", 3.5), ("1.0", 6.75)):
            self.assertEqual([float(speedups[p][k]) for k in ("speedup", "ratio_min", "ratio_max")], [value] * 3)
        md = (report / "s.md").read_text()
        self.assert_report_target(md, "loss ≤ 1")
        self.assertIn("## Time to loss ≤ 1 (s)\n\n| method | power = 0 | power = 1 |\n|---|---|---|\n"
                      "| fast | 2 ± 0 | 4 ± 0 |\n| slow | 7 ± 0 | 27 ± 0 |", md)
        self.assertIn("| slow | 3.5× | 6.75× | yes |", md)
        self.assertIn("- time to a loss target (`loss ≤ v`)", md)
        # final losses as the runs report them (summary.json final_loss), not relative to the initial loss
        self.assertIn("## Final loss at the end of training\n", md)
        self.assertIn("| slow | 0.1 ± 0 | 0.1 ± 0 |", md)
        self.assertIn("| method | power | t(loss ≤ 10) s | t(loss ≤ 1) s | t(loss ≤ 0.05) s | final loss |", md)
        self.assertIn("| slow | 1 | 14 ± 0 | 27 ± 0 | not reached (0/3) | 0.1 ± 0 |", md)
        self.assertNotIn("f*", md)
        # the loss plot: the evaluated loss itself (100 at 0 s, not 1), linear, the dashed line at 1
        self.assertEqual(sorted(figures), sorted(p.name for p in pngs))
        self.assertEqual(sorted(figures), ["s-loss-vs-time.png", "s-speedup.png"])
        for ylabel, scale, lines in figures["s-loss-vs-time.png"]:
            self.assertTrue(ylabel.startswith("evaluated loss"))
            self.assertEqual(scale, "linear")
            self.assertIn(([1.0, 1.0], "--"), lines)
            self.assertEqual([y[0] for y, style in lines if style == "-"], [100.0, 100.0])  # fast and slow
            self.assertAlmostEqual(min(min(y) for y, _ in lines), 0.1)
        ((ylabel, _, lines),) = figures["s-speedup.png"]
        self.assertEqual(ylabel, "time to loss ≤ 1: baseline / fast")
        self.assertIn([3.5, 6.75], [y for y, _ in lines])
        # sweep.py check compares the loss targets' times
        findings = compare_tables(spec, read_table(report / "s.csv"), read_table(report / "s.csv"))
        self.assertEqual({f.what for f in findings if f.what.startswith("t(")}, {"t(loss ≤ 10)", "t(loss ≤ 0.05)", "t(loss ≤ 1)"})

    def test_time_to_target_tuning_with_a_loss_target(self):
        # Hand-written tuning runs, evaluated every second for 50 s: the loss is 3 until it crosses 2.2
        # exactly at tc = 30, 10, 20, 15 s (stepsize 0.01, 0.05, 0.2, 0.4) + 1 s per seed, then falls by
        # 0.01 a second (0.05 a second for 0.2, which so ends lowest: the final-loss protocol's choice).
        spec = self.spec(TIMED.replace('target = "1e-3"', 'target = "loss:2.2"'))
        cross = {0.01: 30, 0.05: 10, 0.2: 20, 0.4: 15}
        final = {}
        for p in tune_points(spec):
            step, tc = p.params["method.stepsize"], cross[p.params["method.stepsize"]] + p.labels["run.seed"] - 100
            slope = 0.05 if step == 0.2 else 0.01
            losses = [(float(t), 3.0 if t < tc else 2.2 - slope * (t - tc)) for t in range(51)]
            final.setdefault(step, []).append(losses[-1][1])
            self.fabricate_run(point_dir(self.dir / "sweep", p), {
                "initial_loss": 3.0, "final_loss": losses[-1][1], "train_time_s": 50.0,
                "time_to_relative_target": {"0.001": None}}, losses, spec, p)
        with contextlib.redirect_stderr(io.StringIO()):
            write_tuned(spec, self.dir / "sweep")
        record = json.loads((self.dir / "sweep" / "tuned.json").read_text())
        self.assertEqual(record["target"], "loss:2.2")
        self.assertIn("reached evaluated loss ≤ 2.2 in every tuning run", record["protocol"])
        self.assertEqual(min(final, key=lambda s: sum(final[s])), 0.2)
        for power in (0.0, 1.0):
            g = record["groups"][group_key("fast", {"heterogeneity.power": power})]
            self.assertEqual([c["times"] for c in g["candidates"]],
                             [[float(cross[s] + i) for i in range(3)] for s in (0.01, 0.05, 0.2, 0.4)])
            self.assertEqual((g["chosen"], g["ties"], g["reached_every_run"]), ({"method.stepsize": 0.05}, [], True))
            self.assertEqual((g["time_mean"], g["time_std"]), (11.0, 1.0))
        # the comparison (the fake binary) reports the tuning target's times beside the relative ones
        self.run_phase(spec, "compare")
        with contextlib.redirect_stderr(io.StringIO()):
            report = aggregate(spec, self.dir / "sweep")
        with open(report / "s.csv") as f:
            fast = next(r for r in csv.DictReader(f) if r["run.method"] == "fast" and r["heterogeneity.power"] == "0.0")
        # loss ≤ 2.2 where 100 · 2^(−4 s) ≤ 2.2: s = 2; relative 1e-3 at 2.5 · (1 + 0.01 · seed)
        self.assertEqual((float(fast["t_loss:2.2_mean"]), float(fast["t_0.001_mean"])), (2.0, 2.525))
        md = (report / "s.md").read_text()
        self.assertIn("the tuning minimized the time to loss ≤ 2.2 instead", md)
        self.assertIn("tuning time to loss ≤ 2.2 (s), 3 run(s)", md)


class SlurmChainTest(Workspace):
    def test_dry_run_chain_and_array_splitting(self):
        spec = self.spec(TUNED)
        out = io.StringIO()
        submitted = slurm_submit(spec, self.dir / "sweep", "/bin/rm-binary", "srun", 4, 10, [], True, out)
        commands = submitted["commands"]
        # 24 tuning points in arrays of 10: 3 arrays; then choose, 12 comparison points: 2 arrays; report
        self.assertEqual(len(submitted["tune"]), 3)
        self.assertEqual(len(submitted["compare"]), 2)
        self.assertIn("--array=0-9%4", commands[0])
        self.assertIn("--array=0-3%4", commands[2])
        choose = commands[3]
        self.assertIn("--dependency=afterany:" + ":".join(submitted["tune"]), choose)
        self.assertIn("aggregate.sbatch", choose)
        self.assertIn(f"--dependency=afterok:{submitted['choose']}", commands[4])
        self.assertIn("--dependency=afterany:" + ":".join(submitted["compare"]), commands[-1])
        self.assertTrue(all("--ntasks=1" in c for c in commands if "--array" in c))  # simulate: one task
        # no job id is made up: the dependencies name placeholders, and the output says nothing was submitted
        self.assertEqual(submitted["tune"], ["<tune 1 array>", "<tune 2 array>", "<tune 3 array>"])
        self.assertEqual((submitted["choose"], submitted["report"]), ("<choose job>", "<report job>"))
        self.assertIn("--dependency=afterok:<choose job>", commands[4])
        self.assertNotRegex(out.getvalue(), r"\b\d{4,}\b")
        self.assertIn("dry run: nothing submitted (7 jobs)", out.getvalue())
        self.assertNotIn("submitted:", out.getvalue())
        self.assertFalse((self.dir / "sweep" / "slurm-jobs.json").exists())


class PlotReadabilityTest(Workspace):
    """Issue #26: plots that read well for one column and on log axes, heat-map labels readable on every cell,
    and a sweep that checks it can plot before it runs anything."""

    def figures_of(self, spec) -> dict:
        """Runs the comparison and the report; returns each saved figure by file name (still open)."""
        figures = {}
        write_figure = plots_module.write_figure

        def keep(fig, path):
            figures[Path(path).name] = fig
            return write_figure(fig, path)

        import matplotlib.pyplot as plt
        if needs_tuning(spec):
            self.run_phase(spec, "tune")
            with contextlib.redirect_stderr(io.StringIO()):
                write_tuned(spec, self.dir / "sweep")
        with mock.patch.object(plots_module, "write_figure", keep), mock.patch.object(plt, "close", lambda *_: None):
            self.compare_and_report(spec)
        return figures

    @staticmethod
    def tick_labels(ax) -> list[str]:
        ax.figure.canvas.draw()  # the formatter runs when the figure is drawn
        lo, hi = ax.get_ylim()
        return [t.get_text() for t, v in zip(ax.get_yticklabels(), ax.get_yticks()) if lo <= v <= hi]

    def test_one_column_speedups_are_one_marker_per_baseline_on_a_labelled_log_axis(self):
        # GRID at p = 0 only: fast takes 2.5 s, slow 10 s, "mid" (2.0 speed) 5 s: speedups 4 and 2 over one column
        spec = self.spec(GRID.replace('"heterogeneity.power" = [0.0, 1.0]', '"heterogeneity.power" = [0.0]')
                         .replace('["fast", "slow"]', '["fast", "slow", "mid"]') + '[report]\nreference = "fast"\n')
        (ax,) = self.figures_of(spec)["s-speedup.png"].axes
        self.assertEqual([t.get_text() for t in ax.get_xticklabels()], ["slow", "mid"])
        self.assertEqual(ax.get_xlabel(), "baseline (power = 0)")
        markers = [list(line.get_ydata()) for line in ax.get_lines() if line.get_marker() in ("o", "^")]
        self.assertEqual(sorted(round(y[0], 6) for y in markers), [2.0, 4.0])
        lo, hi = ax.get_ylim()
        self.assertLess(lo, 1.0)  # 1 (the line of no speedup) and every point inside, with room
        self.assertGreater(hi, 4.0)
        labels = self.tick_labels(ax)
        self.assertTrue({"1", "2", "5"} <= set(labels), labels)
        self.assertFalse([t for t in labels if "10^" in t or "times" in t or "×" in t], labels)

    def test_a_column_where_the_reference_missed_the_target_leaves_one_column_drawn_as_one(self):
        # reference slow within 30 s: 10 s at p = 0, 40 s (missed) at p = 1; fast's 2.5 s at p = 0: speedup 0.25
        spec = self.spec(GRID.replace("100.0", "30.0") + '[report]\nreference = "slow"\n')
        (ax,) = self.figures_of(spec)["s-speedup.png"].axes
        self.assertEqual([t.get_text() for t in ax.get_xticklabels()], ["fast"])
        self.assertEqual(ax.get_xlabel(), "baseline (power = 0)")
        markers = [list(line.get_ydata()) for line in ax.get_lines() if line.get_marker() in ("o", "^")]
        self.assertEqual([round(y[0], 6) for y in markers], [0.25])
        self.assertTrue({"0.2", "0.5", "1"} <= set(self.tick_labels(ax)), self.tick_labels(ax))

    def test_log_axes_within_a_few_decades_are_labelled_at_1_2_5(self):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0.06, 1.3])
        ax.set_yscale("log")
        plots_module.readable_log_axis(ax)
        self.assertEqual(self.tick_labels(ax), ["0.1", "0.2", "0.5", "1"])
        fig, wide = plt.subplots()  # eight decades: the powers of ten, as matplotlib labels them
        wide.plot([0, 1], [1e-6, 100])
        wide.set_yscale("log")
        plots_module.readable_log_axis(wide)
        self.assertTrue(all("10^" in t for t in self.tick_labels(wide) if t), self.tick_labels(wide))
        plt.close("all")

    def test_heatmap_text_is_white_on_dark_cells_and_black_on_light_ones(self):
        # the stand-in's speedups are 4× (p = 0) and 8× (p = 1) in every panel: 8× is the colour scale's dark end
        figure = self.figures_of(self.spec(REGIME))["s-heatmap.png"]
        import matplotlib.colors as colors
        import numpy as np
        colours = []
        for ax in figure.axes[:-1]:  # the panels; the last axes is the colour bar
            (image,) = ax.get_images()
            data = image.get_array()
            for text in ax.texts:
                x, y = (round(v) for v in text.get_position())
                rgb = (0.85,) * 3 if np.ma.is_masked(data[y, x]) else colors.to_rgb(image.cmap(image.norm(data[y, x])))
                dark = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 0.5
                colours.append((text.get_text().split("×")[0], colors.to_hex(text.get_color())))
                self.assertEqual(colours[-1][1], "#ffffff" if dark else "#000000", text.get_text())
                self.assertGreaterEqual(text.get_fontsize(), 8)
        self.assertEqual(len(colours), 16)
        self.assertEqual({c for v, c in colours if v == "8"}, {"#ffffff"})

    def test_a_sweep_that_cannot_plot_stops_before_its_first_run(self):
        path = write(self.dir / "s.toml", SMALL)
        real = importlib.import_module

        def without_matplotlib(name, *args):
            if name.split(".")[0] == "matplotlib":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return real(name, *args)

        with mock.patch.object(plots_module.importlib, "import_module", without_matplotlib):
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = sweep.main(["run", str(path), "--dir", str(self.dir / "sweep"), "--binary", str(self.binary)])
            self.assertEqual(code, 2, err.getvalue())
            line = err.getvalue().strip()
            self.assertEqual(len(line.splitlines()), 1, line)
            self.assertIn(f"sweep: {sys.executable} (Python ", line)
            self.assertIn("cannot import matplotlib", line)
            self.assertEqual(self.calls(), [])  # nothing ran
            with contextlib.redirect_stderr(io.StringIO()):
                self.assertEqual(sweep.main(["plot", str(path), "--dir", str(self.dir / "sweep")]), 2)
        # under an interpreter without matplotlib for real (python3 -I -S: no site packages), the same line
        result = subprocess.run([sys.executable, "-I", "-S", str(REPO / "tools" / "sweep.py"), "run", str(path),
                                 "--dir", str(self.dir / "sweep2"), "--binary", str(self.binary)],
                                capture_output=True, text=True)
        if "No module named 'tomllib'" not in result.stderr:
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn("cannot import", result.stderr)
            self.assertEqual(self.calls(), [])


SMALL = """
[sweep]
config = "base.toml"
[grid]
"run.method" = ["fast", "slow"]
"run.seed" = [0]
"""


class SweepDirectoryTest(Workspace):
    """Issue #22: a sweep directory belongs to one sweep at a time, and to one sweep at all; a sweep that lost
    runs does not exit 0; every file the tool writes is whole or absent."""

    def main(self, *args: str) -> tuple[int, str]:
        """sweep.py with these arguments (the fake binary's): (exit code, stderr)."""
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = sweep.main([*map(str, args)] + (["--binary", str(self.binary)] if args[0] in ("run", "point") else []))
        return code, err.getvalue()

    def assert_refused(self, code: int, err: str, *texts: str) -> None:
        """Exit 2 with one line on stderr holding every text."""
        self.assertEqual(code, 2, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        for text in texts:
            self.assertIn(text, err)

    def test_a_second_sweep_on_one_directory_exits_2_naming_the_holder(self):
        path = write(self.dir / "s.toml", SMALL)
        spec, directory = load_spec(path), self.dir / "sweep"
        with claimed(spec, directory, "run"):  # a sweep running there
            holder = f"pid {os.getpid()} on {socket.gethostname()}, `sweep.py run`"
            for command in (["run"], ["point", "--phase", "compare", "0"], ["report"], ["aggregate"]):
                with self.subTest(command=command[0]):
                    code, err = self.main(command[0], path, "--dir", directory, *command[1:])
                    self.assert_refused(code, err, f"{directory}: in use by another sweep ({holder})")
        self.assertEqual(self.calls(), [])  # nothing ran, nothing was removed
        # array tasks (`point`) run side by side; a `run` waits for them
        with claimed(spec, directory, "point", shared=True):
            self.assertEqual(self.main("point", path, "--dir", directory, "--phase", "compare", "1")[0], 0)
            code, err = self.main("run", path, "--dir", directory)
            self.assert_refused(code, err, f"{directory}: in use by running points")
        self.assertEqual(self.main("run", path, "--dir", directory)[0], 0)

    def test_a_directory_that_is_not_this_sweeps_is_refused_untouched(self):
        path = write(self.dir / "s.toml", SMALL)
        other = self.dir / "other"
        write(other / "notes.txt", "mine")
        code, err = self.main("run", path, "--dir", other)
        self.assert_refused(code, err, f"{other}: not a sweep directory (it holds notes.txt)")
        self.assertEqual(os.listdir(other), ["notes.txt"])
        # another sweep's directory: its spec, choices and report stay as they are
        directory = self.dir / "sweep"
        self.assertEqual(self.main("run", path, "--dir", directory)[0], 0)
        before = {f: f.read_bytes() for f in directory.rglob("*") if f.is_file()}
        theirs = write(self.dir / "t.toml", SMALL.replace("[sweep]", '[sweep]\nname = "t"'))
        for command in ("run", "report", "plot"):
            code, err = self.main(command, theirs, "--dir", directory)
            self.assert_refused(code, err, f"{directory}: the directory of sweep 's' (sweep.toml), not of 't'")
        self.assertEqual({f: f.read_bytes() for f in directory.rglob("*") if f.is_file()}, before)
        # this sweep, changed: its own directory (skip-finished keeps the runs that still match)
        write(path, SMALL.replace('"run.seed" = [0]', '"run.seed" = [0, 1]'))
        self.assertEqual(self.main("run", path, "--dir", directory)[0], 0)
        self.assertEqual(len(self.calls()), 2 + 2)
        self.assertTrue((directory / "sweep.toml").read_text().endswith(path.read_text()))

    def test_sweep_names_stay_inside_the_sweeps_directory(self):
        for name in ("..", ".", "", "a/b", "tab\\tname", "x" * 129):
            with self.subTest(name=name):
                _, line = self.spec_error(f'[sweep]\nname = "{name}"\nconfig = "base.toml"\n')
                self.assertIn("sweep.name must be a file name", line)

    def test_a_sweep_with_runs_missing_does_not_exit_0(self):
        # a run that ends with exit 0 but was stopped before its stop rule (its summary says "signal"): not
        # finished, so the report lacks it; the sweep says so and exits 1
        path = write(self.dir / "s.toml", SMALL + '"fake.stop" = ["none", "signal"]\n')
        code, err = self.main("run", path, "--dir", self.dir / "sweep")
        self.assertEqual(code, 1, err)
        self.assertIn("aggregate: 2 runs missing", err)
        self.assertIn("2 of the comparison runs did not finish", err)

    def test_a_failed_write_keeps_the_old_file_one_line_exit_1(self):
        path = write(self.dir / "s.toml", SMALL)
        directory = self.dir / "sweep"
        self.assertEqual(self.main("run", path, "--dir", directory)[0], 0)
        report = directory / "report"
        before = {f.name: f.read_bytes() for f in report.iterdir()}
        self.assertGreater(len(before[f"{path.stem}-loss-vs-time.png"]), 16384)

        def small_quota():  # the plot (tens of KB) does not fit, the tables do: EFBIG, as a full disk's ENOSPC
            resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

        result = subprocess.run([sys.executable, str(REPO / "tools" / "sweep.py"), "report", str(path), "--dir",
                                 str(directory)], capture_output=True, text=True, preexec_fn=small_quota)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertRegex(result.stderr.strip().splitlines()[-1],
                         r"^sweep: .*/report/s-loss-vs-time\.png: cannot be written: File too large$")
        self.assertNotIn("Traceback", result.stderr)
        # the old report, whole; no temporary left
        self.assertEqual({f.name: f.read_bytes() for f in report.iterdir()}, before)

    def test_inputs_that_are_not_regular_files_are_refused_naming_them(self):
        os.mkfifo(self.dir / "fifo.toml")  # no writer: opening it for reading would wait forever
        _, line = self.spec_error('[sweep]\nconfig = "fifo.toml"\n[grid]\n"run.seed" = [1]\n')
        self.assertIn(f"{self.dir / 'fifo.toml'}: is not a regular file", line)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertEqual(sweep.main(["count", str(self.dir), "--phase", "compare"]), 2)
        self.assertIn(f"{self.dir}: is a directory", err.getvalue())


class NamesTest(Workspace):
    def test_distinct_points_never_share_a_directory(self):
        values = ["a/b", "a_b", "x,seed=1", "x", "", "%2F", "ü", "tab\\there", "..", "[1,2]", "a=b"]
        spec = self.spec(f"""
            [sweep]
            config = "base.toml"
            [grid]
            "run.out" = {json.dumps(values)}
            "run.seed" = [1, 2]
            """)
        names = [p.name for p in compare_points(spec)]
        self.assertEqual(len(set(names)), len(values) * 2)
        self.assertEqual(names[:4], ["out=a%2Fb,seed=1", "out=a%2Fb,seed=2", "out=a_b,seed=1", "out=a_b,seed=2"])
        for name in names:  # one file name each, of safe characters and the separators
            self.assertTrue(set(name) <= SAFE | set(",=%"), name)
            self.assertLessEqual(len(name.encode()), NAME_MAX)

    def test_a_name_too_long_for_a_file_name_is_cut_and_hashed(self):
        long = ["v" * 300 + "1", "v" * 300 + "2"]
        spec = self.spec(f'[sweep]\nconfig = "base.toml"\n[grid]\n"run.out" = {json.dumps(long)}\n')
        names = [p.name for p in compare_points(spec)]
        self.assertEqual(len(set(names)), 2)
        for name in names:
            self.assertEqual(len(name), NAME_MAX)
            self.assertRegex(name, r"^out=v+~[0-9a-f]{16}$")

    def test_published_sweeps_keep_their_names(self):
        # names of safe characters only are what they were before escaping: none of a published sweep's escapes
        for path in sorted((REPO / "configs" / "sweeps").glob("*.toml")):
            spec = load_spec(path)
            for p in tune_points(spec) + compare_points(spec):
                self.assertTrue(set(p.name) <= SAFE | set(",=[]"), f"{path.name}: {p.name}")
        spec = load_spec(REPO / "configs" / "sweeps" / "headline.toml")
        self.assertEqual(tune_points(spec)[0].name, "method=ringmaster,power=0,stepsize=0.000625,threshold=2,seed=100")

    def test_values_that_would_share_a_directory_are_refused_naming_the_axis(self):
        head = '[sweep]\nconfig = "base.toml"\n[grid]\n"run.method" = ["a"]\n'
        cases = {
            '"method.stepsize" = [1, 1.0]\n': "grid.method.stepsize: 1 and 1.0 would name the same run directory",
            '"run.seed" = [1, "1"]\n': 'grid.run.seed: 1 and "1" would name the same run directory',
            'x = [{"run.seed" = 1, "method.batch" = 2}, {"method.batch" = 2, "run.seed" = 1}]\n': "grid.x: ",
            '"run.seed" = [1]\n[tune]\nseeds = [100, 100]\n[tune.grid.a]\n"method.stepsize" = [1]\n':
                "tune.seeds: 100 and 100",
            '"run.seed" = [1]\n[tune.grid.a]\n"method.stepsize" = [0.1, 0.10]\n':
                "tune.grid.a.method.stepsize: 0.1 and 0.1",
            '"run.seed" = [1]\n[tune.grid.a]\n"method.stepsize" = [1]\nx = [{"method.stepsize" = 2}]\n':
                "tune.grid.a: key method.stepsize is set by two axes",
        }
        for text, message in cases.items():
            with self.subTest(text=text):
                _, line = self.spec_error(head + text)
                self.assertIn(message, line)

    def test_the_grid_size_is_checked_from_the_axes_before_any_grid_is_expanded(self):
        steps = json.dumps([i / 1000 for i in range(1, 318)])
        compare = f'[sweep]\nconfig = "base.toml"\n[grid]\n"method.stepsize" = {steps}\n"run.seed" = {steps}\n'
        tune = (f'[sweep]\nconfig = "base.toml"\n[grid]\n"run.method" = ["a", "b"]\n[tune]\n[tune.grid.a]\n'
                f'"method.stepsize" = {steps}\n"method.momentum" = {steps}\n'
                f'[tune.grid.b]\n"method.threshold" = [1, 2]\n')
        with mock.patch("sweeplib.points.product", side_effect=AssertionError("a grid was expanded")):
            _, line = self.spec_error(compare)
            self.assertIn(f"the compare phase would have {317 * 317:,} runs; at most {MAX_POINTS:,} per phase", line)
            _, line = self.spec_error(tune)  # 3 seeds × (317 × 317 for a + 2 for b)
            self.assertIn(f"the tune phase would have {3 * (317 * 317 + 2):,} runs", line)


@unittest.skipUnless(os.environ.get("RINGMASTER_BINARY"), "RINGMASTER_BINARY not set (ctest sets it)")
class RealBinaryTest(Workspace):
    def real_spec(self, name: str, budget: float, eval_every: float, rest: str) -> Spec:
        """A spec over the repository's quadratic (8×8, 4 workers, power profile) with `rest` after [set]."""
        return self.spec(textwrap.dedent(f"""
            [sweep]
            name = "{name}"
            config = "{REPO / 'configs' / 'quadratic.toml'}"
            [set]
            "run.workers" = 4
            "run.time_budget_s" = {budget}
            "run.eval_every_s" = {eval_every}
            "objective.rows" = 8
            "objective.cols" = 8
            "heterogeneity.profile" = "power"
            """) + textwrap.dedent(rest))

    def test_small_sweep_through_the_real_simulator(self):
        spec = self.real_spec("real", 0.3, 0.05, """
            [grid]
            "run.method" = ["ringmaster", "sync"]
            "heterogeneity.power" = [0.5]
            [tune]
            [tune.grid.ringmaster]
            "method.stepsize" = [0.01, 0.1]
            [report]
            reference = "ringmaster"
            target = "0.1"
            """)
        binary = os.environ["RINGMASTER_BINARY"]
        with contextlib.redirect_stderr(io.StringIO()):
            code = sweep.command_run(spec, self.dir / "sweep", binary, "mpirun", 2, None)
        self.assertEqual(code, 0)
        tuned = json.loads((self.dir / "sweep" / "tuned.json").read_text())
        (group,) = tuned["groups"].values()
        scores = {c["params"]["method.stepsize"]: c["score"] for c in group["candidates"]}
        self.assertEqual(group["chosen"]["method.stepsize"], min(scores, key=scores.get))
        for p in phase_points(spec, "compare", self.dir / "sweep"):
            d = point_dir(self.dir / "sweep", p)
            summary = json.loads((d / "summary.json").read_text())
            self.assertEqual(summary["method"], p.labels["run.method"])
            self.assertEqual(summary["engine"], "sim")
            self.assertAlmostEqual(summary["train_time_s"], 0.3)
            config = (d / "config.toml").read_text()
            self.assertIn("power = 0.5", config)
        self.assertTrue((self.dir / "sweep" / "report" / "real.md").is_file())

    def test_time_to_target_tuning_through_the_real_simulator(self):
        spec = self.real_spec("real-ttt", 2.0, 0.05, """
            [grid]
            "run.method" = ["ringmaster"]
            "heterogeneity.power" = [0.5]
            [tune]
            seeds = [100, 101]
            protocol = "time-to-target"
            target = "0.1"
            [tune.grid.ringmaster]
            "method.stepsize" = [0.01, 0.05, 0.2]
            [report]
            target = "0.1"
            """)
        sweep_dir = self.dir / "sweep"
        with contextlib.redirect_stderr(io.StringIO()):
            code = sweep.command_run(spec, sweep_dir, os.environ["RINGMASTER_BINARY"], "mpirun", 2, None, plots=False)
        self.assertEqual(code, 0)
        tuned = json.loads((sweep_dir / "tuned.json").read_text())
        self.assertEqual((tuned["target"], tuned["eval_every_s"]), ("0.1", 0.05))
        (group,) = tuned["groups"].values()
        # each candidate's times are its tuning runs' summary.json times to 0.1
        by_step = {c["params"]["method.stepsize"]: c for c in group["candidates"]}
        final = {0.01: [], 0.05: [], 0.2: []}
        for p in tune_points(spec):
            summary = json.loads((point_dir(sweep_dir, p) / "summary.json").read_text())
            c = by_step[p.params["method.stepsize"]]
            self.assertEqual(c["times"][c["runs"].index(p.name)], summary["time_to_relative_target"]["0.1"])
            final[p.params["method.stepsize"]].append(summary["final_loss"])
        # stepsize 0.01 does not get to 0.1 of the initial loss in 2 s; 0.2 gets there first (about 0.3 s)
        # and 0.05 later (about 1 s) though it ends lower: the final-loss protocol would choose 0.05
        self.assertEqual([by_step[s]["reached"] for s in (0.01, 0.05, 0.2)], [0, 2, 2])
        self.assertTrue(all(a < b for a, b in zip(final[0.05], final[0.2])))
        self.assertLess(by_step[0.2]["time_mean"], by_step[0.05]["time_mean"] - 0.2)
        self.assertEqual((group["chosen"], group["reached_every_run"], group["ties"]), ({"method.stepsize": 0.2}, True, []))
        self.assertEqual(group["time_mean"], by_step[0.2]["time_mean"])
        (run,) = phase_points(spec, "compare", sweep_dir)
        self.assertEqual(dict(run.overrides)["method.stepsize"], 0.2)

    def test_bad_key_stops_the_sweep_with_the_binarys_message(self):
        spec = self.spec(f"""
            [sweep]
            config = "{REPO / 'configs' / 'quadratic.toml'}"
            [set]
            "run.nope" = 1
            [grid]
            "run.seed" = [0, 1, 2]
            """)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            failed = run_phase(spec, "compare", self.dir / "sweep", os.environ["RINGMASTER_BINARY"], "mpirun", 1)
        self.assertEqual(len(failed), 1)
        self.assertIn("run.nope", err.getvalue())


if __name__ == "__main__":
    unittest.main()
