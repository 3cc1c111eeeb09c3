"""What the benchmark scripts share: timing, percentiles, one line per figure as it is measured,
and the table of every figure with its target and its ratio to a baseline."""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

# A script run by bench/run writes its figures to this file as JSON, for the one table.
ROWS_FILE_ENV = "MAILLAB_BENCH_ROWS"


@dataclass
class Figure:
    name: str
    kind: str = "median"           # median, p95, count, ...
    value: float | None = None     # None: not measured (see note)
    unit: str = "s"                # s, MiB, learners
    target: float | None = None
    baseline: float | None = None  # the floor it is compared with, in the same unit
    better: str = "lower"          # or "higher" (learners per 24 GiB)
    note: str = ""                 # what the baseline is, what a target means, or why not measured

    @property
    def meets_target(self) -> bool | None:
        if self.value is None or self.target is None:
            return None
        return self.value <= self.target if self.better == "lower" else self.value >= self.target


ROWS: list[Figure] = []


def timed(fn, n):
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def shown(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:.0f} {unit}"


def report(name, seconds, target=None, kind="median", baseline=None, *, unit="s", better="lower", note=""):
    """Record one figure and print its line at once (long benchmarks show progress)."""
    figure = Figure(name, kind, seconds, unit, target, baseline, better, note)
    ROWS.append(figure)
    print(line(figure), flush=True)
    return figure


def not_measured(name, why, *, target=None, kind="", unit="s", better="lower"):
    """A figure that could not be measured: the table says why instead of a traceback."""
    return report(name, None, target, kind, unit=unit, better=better, note=f"not measured: {why}")


def line(f: Figure) -> str:
    parts = [f"{f.name:<44} {f.kind:<6} {shown(f.value, f.unit):>10}"]
    if f.target is not None:
        sign = "<=" if f.better == "lower" else ">="
        parts.append(f"target {sign} {shown(f.target, f.unit)}")
        if f.value is not None:
            parts.append(f"{f.value / f.target:.2f}x target ({'ok' if f.meets_target else 'MISSED'})")
    if f.baseline and f.value is not None:
        parts.append(f"{f.value / f.baseline:.1f}x baseline ({shown(f.baseline, f.unit)})")
    if f.note:
        parts.append(f.note)
    return "  ".join(parts)


def table(rows: list[Figure]) -> str:
    head = ("figure", "kind", "value", "target", "vs target", "baseline", "vs baseline", "note")
    body = []
    for f in rows:
        sign = "<= " if f.better == "lower" else ">= "
        body.append((
            f.name, f.kind, shown(f.value, f.unit),
            sign + shown(f.target, f.unit) if f.target is not None else "-",
            f"{f.value / f.target:.2f}x {'ok' if f.meets_target else 'MISSED'}"
            if f.target is not None and f.value is not None else "-",
            shown(f.baseline, f.unit) if f.baseline else "-",
            f"{f.value / f.baseline:.1f}x baseline" if f.baseline and f.value is not None else "-",
            f.note))
    widths = [max(len(str(r[i])) for r in (head, *body)) for i in range(len(head) - 1)]
    out = []
    for row in (head, *body):
        out.append("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return "\n".join(out)


def summary(name: str) -> None:
    measured = [r for r in ROWS if r.value is not None]
    missed = [r for r in measured if r.meets_target is False]
    print(f"{name}: {len(measured)} figures, {len(missed)} over target, "
          f"{len(ROWS) - len(measured)} not measured")
    path = os.environ.get(ROWS_FILE_ENV)
    if path:
        with open(path, "w") as handle:
            json.dump([asdict(r) for r in ROWS], handle)


def load_rows(path: str) -> list[Figure]:
    with open(path) as handle:
        return [Figure(**row) for row in json.load(handle)]
