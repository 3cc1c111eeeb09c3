"""What the benchmark scripts share: timing, percentiles and one line per figure."""
from __future__ import annotations

import time

ROWS = []


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


def report(name, seconds, target=None, kind="median", baseline=None):
    ROWS.append((name, kind, seconds, target, baseline))
    shown = f"{seconds * 1000:9.1f} ms" if seconds < 1 else f"{seconds:9.2f} s "
    parts = [f"{name:<38} {kind:<6} {shown}"]
    if target is not None:
        verdict = "ok" if seconds <= target else "OVER"
        parts.append(f"target {target:g} s ({seconds / target:4.2f}x of target, {verdict})")
    if baseline is not None:
        parts.append(f"baseline {baseline * 1000:.1f} ms ({seconds / baseline:4.1f}x)")
    print("  ".join(parts), flush=True)


def summary(name: str) -> None:
    over = [r for r in ROWS if r[3] is not None and r[2] > r[3]]
    print(f"{name}: {len(ROWS)} figures, {len(over)} over target")
