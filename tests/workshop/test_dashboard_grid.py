"""What each cell of the dashboard's grid says, and who is stuck (pure logic, a real gradebook file)."""
from __future__ import annotations

from datetime import datetime, timezone

from grader import course
from classroom.gradebook import Gradebook
from grader.result import ItemResult, Status, StepResult
from workshop.dashboard import grid
from workshop.settings import WorkshopSettings

LAB = "install-postfix"


def attempt(step, status, at, hint="Install it."):
    items = (ItemResult("c", "C", status, "saw", None if status is Status.PASS else hint),)
    return StepResult(LAB, step, items, at, 0.1)


def marker(step, at):
    return StepResult(LAB, step, (), at, 0.0)


def test_cells_and_who_is_stuck(tmp_path):
    book = Gradebook(tmp_path / "gb.sqlite")
    book.record("ana", attempt("install", Status.FAIL, "2026-11-30T10:00:00+00:00"))
    book.record("ana", attempt("install", Status.FAIL, "2026-11-30T10:05:00+00:00", hint="Preseed first."))
    book.record("ben", attempt("install", Status.PASS, "2026-11-30T10:01:00+00:00"))
    book.record("ben", attempt("start", Status.ERROR, "2026-11-30T10:02:00+00:00"))
    book.record("cy", marker("install", "2026-11-30T10:03:00+00:00"), kind="solve")
    book.record("cy", attempt("install", Status.PASS, "2026-11-30T10:04:00+00:00"))
    book.record("dee", attempt("install", Status.PASS, "2026-11-30T10:04:00+00:00"))
    book.record("dee", marker("install", "2026-11-30T10:06:00+00:00"), kind="reset")
    now = datetime(2026, 11, 30, 10, 12, tzinfo=timezone.utc)
    data = grid(WorkshopSettings(group="no-such-group-here", instructors=["ana"]), book, now=now)
    ours = [i for i, c in enumerate(data["columns"]) if c["lab"] == LAB]  # one column per step of the course
    assert [data["columns"][i]["step"] for i in ours] == ["install", "start", "local-delivery"]
    assert len(data["columns"]) == sum(len(lab.steps) for lab in course.all_labs())
    rows = {r["learner"]: r for r in data["rows"]}
    states = {name: [row["cells"][i]["state"] for i in ours] for name, row in rows.items()}
    assert states == {"ana": ["fail", "none", "none"],      # an instructor with grades is shown
                      "ben": ["pass", "error", "none"],
                      "cy": ["solved", "none", "none"],     # passes only because the solution was used
                      "dee": ["was", "none", "none"]}       # passed, then reset
    assert rows["ana"]["stuck"] == {"lab": LAB, "step": "install", "attempts": 2, "minutes": 12.0,
                                    "last_hint": "Preseed first."}
    assert rows["ben"]["stuck"]["step"] == "start" and rows["ben"]["stuck"]["minutes"] == 10.0
    assert rows["cy"]["stuck"] is None and rows["dee"]["stuck"] is None
    assert data["cells"]["pass"][:2] == ["PASS", "\u2714"]


def test_a_how_to_shown_is_marked_and_keeps_the_state(tmp_path):
    book = Gradebook(tmp_path / "gb.sqlite")
    book.record("eve", attempt("install", Status.FAIL, "2026-11-30T10:00:00+00:00"))
    book.record("eve", marker("install", "2026-11-30T10:01:00+00:00"), kind="guidance", mode="challenge")
    data = grid(WorkshopSettings(group="no-such-group-here", instructors=["eve"]), book,
                now=datetime(2026, 11, 30, 10, 5, tzinfo=timezone.utc))
    [row] = data["rows"]
    first = next(i for i, c in enumerate(data["columns"]) if c["lab"] == LAB and c["step"] == "install")
    assert row["cells"][first] == {"state": "fail", "attempts": 1, "hints": 1, "guided": 1, "level": 0}


def test_a_pass_after_the_how_to_is_passed_with_help(tmp_path):
    book = Gradebook(tmp_path / "gb.sqlite")
    book.record("fay", marker("install", "2026-11-30T10:00:00+00:00"), kind="guidance", mode="challenge")
    book.record("fay", attempt("install", Status.PASS, "2026-11-30T10:02:00+00:00"))
    book.record("gus", attempt("install", Status.PASS, "2026-11-30T10:02:00+00:00"))
    book.record("gus", marker("install", "2026-11-30T10:03:00+00:00"), kind="guidance", mode="challenge")
    data = grid(WorkshopSettings(group="no-such-group-here"), book, now=datetime(2026, 11, 30, 10, 5, tzinfo=timezone.utc))
    first = next(i for i, c in enumerate(data["columns"]) if c["lab"] == LAB and c["step"] == "install")
    states = {row["learner"]: row["cells"][first]["state"] for row in data["rows"]}
    assert states == {"fay": "helped", "gus": "pass"}  # gus passed on his own before he looked
    assert data["cells"]["helped"][0] == "passed with help"
    assert all(row["stuck"] is None for row in data["rows"])


def test_a_skipped_step_is_skipped_not_failed(tmp_path):
    book = Gradebook(tmp_path / "gb.sqlite")
    book.record("hal", marker("install", "2026-11-30T10:00:00+00:00"), kind="skip")
    data = grid(WorkshopSettings(group="no-such-group-here"), book, now=datetime(2026, 11, 30, 10, 5, tzinfo=timezone.utc))
    first = next(i for i, c in enumerate(data["columns"]) if c["lab"] == LAB and c["step"] == "install")
    assert data["rows"][0]["cells"][first]["state"] == "skipped" and data["rows"][0]["stuck"] is None
