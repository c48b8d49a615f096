"""`sweep.py check`: does a regeneration of a sweep support the same conclusions as the published one?

The simulator is deterministic for one binary on one CPU type, but not across CPUs: BLAS kernels and
vector math differ in their last bits, and a constant-stepsize run's final loss sits in a noise floor
where those bits grow into a different loss, as a different seed would. So a regeneration elsewhere is
compared with the published tables by their conclusions, within the tolerances of the spec's [check]
table (docs/sweeps.md):

- tuned choice: the same hyperparameters, or a choice that either side reported as a tie (within noise);
- time to each checked target, per method × column: the means within `time_factor` of each other, where
  a cell that missed the target in some run counts as "at least" its lower bound (so "not reached" and
  "reached just before the end" agree, and "not reached" and "reached at a quarter of the horizon" do
  not); this covers "the same methods reach each target";
- the fastest method per column and target: the same, or one that either side reported as within noise
  of the fastest;
- final relative loss, per method × column: the means within `final_loss_factor`.

Both sides are read from the same files: <name>-tuned.json and <name>.csv as `--publish` writes them
(the sweep's own tuned.json and report/<name>.csv are a superset)."""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import TABLE_LIMIT, FileError, read_text
from .spec import Spec, SpecError, labels_interval
from .names import label_text
from .report import fastest, report_layout, target_text
from .tuning import is_time_protocol, protocol_records, read_tuned_json


@dataclass
class Finding:
    what: str  # "tuned", "time", "fastest", "final loss"
    where: str  # e.g. "async p=0.5"
    published: str
    regenerated: str
    ok: bool  # within tolerance
    note: str = ""

    def line(self) -> str:
        mark = "ok     " if self.ok else "CHANGED"
        note = f"  ({self.note})" if self.note else ""
        return f"{mark} {self.what:10} {self.where}: published {self.published}, regenerated {self.regenerated}{note}"


def read_tuned_record(path: Path) -> dict[str, dict[str, Any]]:
    """group → {"chosen": params, "ties": [params]} from a tuned.json (published or not), and under the
    key PROTOCOL_KEY the protocol it was chosen by ("final-loss", or "time-to-target <target>")."""
    record = read_tuned_json(path)
    groups = {group: {"chosen": g["chosen"], "ties": g.get("ties", [])} for group, g in record["groups"].items()}
    # with several protocols each group names its own (in its key), and the record lists them in order
    protocol = " + ".join(f"time-to-target {r['target']}" if is_time_protocol(r) else "final-loss"
                          for r in protocol_records(record))
    return {PROTOCOL_KEY: protocol, **groups}


PROTOCOL_KEY = "protocol"  # not a tuning group: groups are JSON objects


def read_table(path: Path) -> dict[str, dict[str, str]]:
    """report CSV rows keyed by their labels (every column before `seeds`), as canonical JSON."""
    try:
        rows = list(csv.DictReader(io.StringIO(read_text(path, TABLE_LIMIT), newline="")))
    except FileError as e:
        raise SpecError(f"{path}: missing" if e.missing else str(e)) from None
    except csv.Error as e:
        raise SpecError(f"{path}: not a report table: {e}") from None
    out = {}
    for row in rows:
        labels = {}
        for k, v in row.items():
            if k == "seeds":
                break
            labels[k] = v
        out[json.dumps(labels, sort_keys=True)] = row
    return out


def num(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def count(text: str | None) -> int:
    value = num(text)
    return int(value) if math.isfinite(value) else 0


def time_interval(row: dict[str, str], target: str) -> tuple[float, float]:
    """The mean time to `target` as an interval: [mean, mean] if every run reached it, else [lower bound,
    ∞) (the runs that missed it counted at their training time)."""
    n, reached = count(row.get("finished")), count(row.get(f"t_{target}_reached"))
    if n > 0 and reached == n:
        t = num(row[f"t_{target}_mean"])
        return t, t
    bound = num(row.get(f"t_{target}_bound"))
    if math.isnan(bound) or math.isinf(bound):
        bound = num(row.get("train_time_s"))
    return bound, math.inf


def interval_text(iv: tuple[float, float], row: dict[str, str], target: str) -> str:
    lo, hi = iv
    if lo == hi:
        return f"{lo:.3g} s"
    reached = row.get(f"t_{target}_reached", "0")
    return f"≥ {lo:.3g} s ({reached}/{row.get('finished')} reached)" if reached not in ("0", "") else "not reached"


def intervals_agree(a: tuple[float, float], b: tuple[float, float], factor: float) -> bool:
    """Whether some value of a and some value of b are within `factor` of each other."""
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return lo <= factor * hi


def params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k.split('.')[-1]} {label_text(v)}" for k, v in params.items()) or "(none)"


def compare_tuned(published: dict[str, dict[str, Any]], regenerated: dict[str, dict[str, Any]]) -> list[Finding]:
    """The choices under either protocol: the same, or within a reported tie; and the same protocol."""
    published, regenerated = dict(published), dict(regenerated)
    pub_protocol = published.pop(PROTOCOL_KEY, "final-loss")
    reg_protocol = regenerated.pop(PROTOCOL_KEY, "final-loss")
    findings = []
    for group, pub in published.items():
        g = json.loads(group)
        where = " ".join([str(g.pop("method", ""))] + [f"{k.split('.')[-1]}={label_text(v)}" for k, v in g.items()])
        reg = regenerated.get(group)
        if reg is None:
            findings.append(Finding("tuned", where, params_text(pub["chosen"]), "missing", False))
            continue
        same = pub["chosen"] == reg["chosen"]
        tie = reg["chosen"] in pub["ties"] or pub["chosen"] in reg["ties"]
        findings.append(Finding("tuned", where, params_text(pub["chosen"]), params_text(reg["chosen"]),
                                same or tie, "" if same else "a reported tie" if tie else "not a reported tie"))
    if pub_protocol != reg_protocol:  # choices made to different ends: not the same conclusion
        findings.append(Finding("tuned", "protocol", pub_protocol, reg_protocol, False))
    return findings


def compare_tables(spec: Spec, published: dict[str, dict[str, str]], regenerated: dict[str, dict[str, str]]
                   ) -> list[Finding]:
    rows_key = report_layout(spec)[0]
    tol = spec.check
    findings = []

    def where(labels: dict[str, str]) -> str:
        return " ".join([labels.get(rows_key, "")] + [f"{k.split('.')[-1]}={v}" for k, v in labels.items()
                                                       if k != rows_key])

    for key, pub in published.items():
        labels = json.loads(key)
        reg = regenerated.get(key)
        if reg is None:
            findings.append(Finding("cell", where(labels), "present", "missing", False))
            continue
        for target in tol.targets:
            a, b = time_interval(pub, target), time_interval(reg, target)
            ok = intervals_agree(a, b, tol.time_factor)
            ratio = max(a[0], b[0]) / min(a[1], b[1]) if min(a[1], b[1]) > 0 else math.inf
            same_text = interval_text(a, pub, target) == interval_text(b, reg, target)
            findings.append(Finding(f"t({target_text(target)})", where(labels), interval_text(a, pub, target),
                                    interval_text(b, reg, target), ok, "" if same_text else
                                    f"factor {ratio:.3g}, tolerance {tol.time_factor:g}" if math.isfinite(ratio)
                                    else f"tolerance {tol.time_factor:g}"))
        fa, fb = num(pub.get("final_rel_loss_mean")), num(reg.get("final_rel_loss_mean"))
        if math.isfinite(fa) and math.isfinite(fb) and fa > 0 and fb > 0:
            ratio = max(fa, fb) / min(fa, fb)
            ok = ratio <= tol.final_loss_factor
        else:
            ratio, ok = math.nan, (math.isinf(fa) == math.isinf(fb))
        findings.append(Finding("final loss", where(labels), f"{fa:.3g}", f"{fb:.3g}", ok,
                                f"factor {ratio:.3g}, tolerance {tol.final_loss_factor:g}" if ratio == ratio else ""))

    # the fastest method per column (and per value of other axes) and target
    def winners(table: dict[str, dict[str, str]], target: str) -> dict[str, tuple[Any, list[Any]]]:
        cells: dict[str, list[tuple[Any, float, float, int]]] = {}
        for key, row in table.items():
            labels = json.loads(key)
            column = json.dumps({k: v for k, v in labels.items() if k != rows_key}, sort_keys=True)
            cells.setdefault(column, [])
            n, reached = count(row.get("finished")), count(row.get(f"t_{target}_reached"))
            if n > 0 and reached == n:
                std = num(row.get(f"t_{target}_std"))
                cells[column].append((labels[rows_key], num(row[f"t_{target}_mean"]),
                                      0.0 if math.isnan(std) else std, n))
        out = {}
        for column, entries in cells.items():
            # one evaluation interval of the column's runs (a grid axis may set it per cell)
            ranked, ties = fastest(entries, spec.report.tie, labels_interval(spec, json.loads(column)))
            out[column] = (ranked[0][0] if ranked else None, ties)
        return out

    for target in tol.targets:
        pub_w, reg_w = winners(published, target), winners(regenerated, target)
        for column, (pw, pties) in pub_w.items():
            rw, rties = reg_w.get(column, (None, []))
            same = pw == rw
            tie = (rw is not None and rw in pties) or (pw is not None and pw in rties)
            labels = json.loads(column)
            place = " ".join(f"{k.split('.')[-1]}={v}" for k, v in labels.items())
            findings.append(Finding(f"fastest({target_text(target)})", place, str(pw or "none"), str(rw or "none"),
                                    same or tie, "" if same else "within noise of each other" if tie
                                    else "not within noise"))
    return findings


def check(spec: Spec, sweep_dir: Path, published_dir: Path, out) -> int:
    """Compares the regenerated sweep in sweep_dir (tuned.json, report/<name>.csv) with published_dir.
    Prints every comparison that differs and a verdict; returns 0 if every conclusion holds, 1 if not."""
    findings: list[Finding] = []
    if spec.tune is not None and (published_dir / f"{spec.name}-tuned.json").exists():
        findings += compare_tuned(read_tuned_record(published_dir / f"{spec.name}-tuned.json"),
                                  read_tuned_record(sweep_dir / "tuned.json"))
    elif spec.tune is not None:
        raise SpecError(f"{published_dir / (spec.name + '-tuned.json')}: missing (published without tuning?)")
    findings += compare_tables(spec, read_table(published_dir / f"{spec.name}.csv"),
                               read_table(sweep_dir / "report" / f"{spec.name}.csv"))
    changed = [f for f in findings if not f.ok]
    differ = [f for f in findings if f.ok and f.published != f.regenerated]
    tol = spec.check
    print(f"check {spec.name}: regenerated {sweep_dir} against published {published_dir}; tolerances: tuned "
          f"choice the same or a reported tie; times to {', '.join(map(target_text, tol.targets))} within "
          f"×{tol.time_factor:g}; final loss within ×{tol.final_loss_factor:g}; fastest method the same or "
          "within noise", file=out)
    for f in differ + changed:
        print(f.line(), file=out)
    kinds = sorted({f.what for f in findings})
    print(f"check {spec.name}: {len(findings)} comparisons ({', '.join(kinds)}): {len(findings) - len(differ) - len(changed)} "
          f"identical, {len(differ)} differ within tolerance, {len(changed)} changed", file=out)
    if changed:
        print(f"check {spec.name}: FAILED: {len(changed)} conclusion(s) changed", file=out)
        return 1
    print(f"check {spec.name}: passed: no conclusion changed", file=out)
    return 0
