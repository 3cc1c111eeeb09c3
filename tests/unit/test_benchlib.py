"""The benchmark table: each figure against its target and as a ratio of its baseline; a figure
that could not be measured says why."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import benchlib  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_rows(monkeypatch):
    monkeypatch.setattr(benchlib, "ROWS", [])


def test_ratios_to_target_and_baseline_are_in_the_table():
    benchlib.report("machine create", 0.1, 0.2, baseline=0.008)
    benchlib.report("check start", 0.6, 0.5, kind="p95")
    benchlib.report("learners per 24 GiB", 120, 30, kind="count", unit="learners", better="higher")
    text = benchlib.table(benchlib.ROWS)
    machine, check, learners = text.splitlines()[1:]
    assert "0.50x ok" in machine and "12.5x baseline" in machine and "100.0 ms" in machine
    assert "1.20x MISSED" in check
    assert ">= 30 learners" in learners and "4.00x ok" in learners


def test_a_figure_not_measured_says_why_and_the_rows_reach_bench_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(benchlib.ROWS_FILE_ENV, str(tmp_path / "rows.json"))
    benchlib.not_measured("postfix install from the mirror", "no route to the mirror", target=10.0)
    benchlib.report("exec round trip", 0.007, 0.03)
    benchlib.summary("bench")
    assert "1 figures, 0 over target, 1 not measured" in capsys.readouterr().out
    rows = benchlib.load_rows(str(tmp_path / "rows.json"))
    assert [r.name for r in rows] == ["postfix install from the mirror", "exec round trip"]
    line = benchlib.table(rows).splitlines()[1]
    assert "not measured: no route to the mirror" in line and "MISSED" not in line
    assert json.loads((tmp_path / "rows.json").read_text())[0]["value"] is None
