"""Progress that tells the truth: the header, every panel and the course map read one source, the
gradebook; a check, skip or reset in any cell shows everywhere; a re-check says when it ran; Skip
needs no check."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from classroom.notebook import home, session_thread
from classroom.notebook.howto import HowTo
from classroom.notebook.notebook_lab import NotebookLab
from classroom.session import LabSession
from grader import course
from grader.result import ItemResult, Status, StepResult
from notebook_fakes import FakeMachine

LAB = "install-postfix"


def result(step: str, status: Status) -> StepResult:
    items = (ItemResult("c", "Postfix is installed", status, "saw", None if status is Status.PASS else "Install it."),)
    return StepResult(LAB, step, items, datetime.now(timezone.utc).isoformat(), 0.12)


@pytest.fixture
def session(tmp_path, monkeypatch):
    """A real LabSession and gradebook; only what touches machines is stood in for."""
    monkeypatch.setenv("MAILLAB_GRADEBOOK", str(tmp_path / "gradebook.sqlite"))
    session = LabSession(course.find(LAB), "nb-progress")
    session.outcome = {}
    session.solved = []

    def check(step_id):
        outcome = result(step_id, session.outcome.get(step_id, Status.FAIL))
        session.gradebook.record(session.learner, outcome, kind="check")
        return outcome

    def solve(step_id, *, only=False):
        done = [s.id for s in session.lab.steps[: session.lab.step_index(step_id) + 1]]
        session.solved.append(step_id)
        if session.record:
            for step in done:
                session.gradebook.record(session.learner, StepResult(LAB, step, (), "2026-01-01T00:00:00+00:00", 0.0),
                                         kind="solve")
        return done

    def reset(step_id=None, *, quiet=True):
        for step in session.lab.steps[session.lab.step_index(step_id) if step_id else 0:]:
            session.gradebook.record(session.learner, StepResult(LAB, step.id, (), datetime.now(timezone.utc).isoformat(),
                                                                 0.0), kind="reset")

    machine = FakeMachine()
    monkeypatch.setattr(session, "check", check)
    monkeypatch.setattr(session, "solve", solve)
    monkeypatch.setattr(session, "reset", reset)
    monkeypatch.setattr(session, "machine", lambda name=None: machine)
    monkeypatch.setattr(session, "started", lambda: True)
    return session


def test_skip_needs_no_check_and_keeps_what_the_learner_passed(session):
    session.outcome["install"] = Status.PASS
    session.check("install")
    done = session.skip_to("local-delivery")
    assert done == ["install", "start"] and session.solved == ["start"]
    book = session.gradebook
    kinds = [(a["step"], a["kind"]) for a in book.attempts(session.learner, LAB)]
    assert kinds == [("install", "check"), ("start", "skip")]  # no check, no FAIL, no hint for start
    states = session.progress()
    assert states["install"]["state"] == "passed" and states["start"]["state"] == "skipped"
    assert states["start"]["attempts"] == 0 and "local-delivery" not in states


def test_a_check_in_one_cell_shows_in_the_header_and_in_every_panel(session):
    lab = NotebookLab(session)
    first, again = lab.panel("install"), lab.panel("install")  # the check cell, and the same step's panel run twice
    later = lab.panel("start")
    assert "To do." in first.state_line.value and "Not checked yet" in again.result_area.value
    session.outcome["install"] = Status.PASS
    first.check().result(timeout=10)
    assert "1 of 3 steps passed" in lab.progress_text.value
    assert "Install Postfix as an Internet Site (passed, " in lab.progress_text.value
    for panel in (first, again):
        assert "Passed on your own, " in panel.state_line.value
        assert "<strong>PASS</strong>" in panel.result_area.value  # the other panel follows too
    assert "To do." in later.state_line.value

    # Reset from the later step's panel puts the install step's panels back too? No: only that step
    # and the ones after it. A reset of install, from a cell, shows in both of its panels.
    lab.reset_step("install")
    lab.refresh_progress()
    for panel in (first, again):
        assert "Reset to its start, " in panel.state_line.value
        assert "Not checked yet" in panel.result_area.value
    assert "0 of 3 steps passed" in lab.progress_text.value


def test_a_re_check_with_the_same_result_says_when_it_ran(session):
    lab = NotebookLab(session)
    panel = lab.panel("install")
    panel.check().result(timeout=10)
    shown = panel.result_area.value
    assert "Checked at " in shown and "(0.1 s)" in shown
    assert datetime.now().strftime("%H:%M") in shown


def test_skip_from_the_how_to_needs_no_check_and_updates_the_header(session):
    lab = NotebookLab(session)
    howto = HowTo(session, "local-delivery", mode="challenge", on_skip=lab._skip_and_refresh)
    howto.ask_skip()
    assert "The gradebook notes that you skipped them" in howto.skip_text.value
    howto.skip().result(timeout=10)
    assert "Reference solution used" in howto.skip_result.value
    assert [a["kind"] for a in session.gradebook.attempts(session.learner, LAB)] == ["skip", "skip"]
    assert "(skipped, " in lab.progress_text.value and "0 of 3 steps passed" in lab.progress_text.value
    assert not hasattr(HowTo(session, "install", mode="challenge", on_skip=lab._skip_and_refresh), "skip_button")


def test_the_header_follows_a_check_made_elsewhere(session):
    import time

    lab = NotebookLab(session)
    panel = lab.panel("install")
    lab.refresh_progress()
    lab.follow(every=0.05)
    try:
        session.outcome["install"] = Status.PASS
        session.check("install")  # from the lab's other edition, or `maillab check` in a shell
        deadline = time.monotonic() + 5
        while "1 of 3 steps passed" not in lab.progress_text.value and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "1 of 3 steps passed" in lab.progress_text.value
        while "PASS" not in panel.result_area.value and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "<strong>PASS</strong>" in panel.result_area.value and "Passed on your own" in panel.state_line.value
    finally:
        lab.stop_following()


def test_the_course_map_follows_the_gradebook(session, monkeypatch):
    monkeypatch.setenv("MAILLAB_LEARNER", session.learner)
    shown = home.current_home_html(session.learner, "en")
    assert "Install Postfix" in shown and "1 skipped" not in shown
    session.skip_to("local-delivery")
    session.outcome["local-delivery"] = Status.PASS
    session.gradebook.record(session.learner, StepResult(LAB, "local-delivery", (), "2026-01-01T00:00:00+00:00", 0.0),
                             kind="guidance", mode="challenge")
    session.check("local-delivery")
    shown = home.current_home_html(session.learner, "en")
    assert "1 of 3 steps passed (1 with help, 2 skipped)" in shown


def test_the_panel_is_a_named_group_with_named_buttons_and_a_live_result(session):
    panel = NotebookLab(session).panel("start")
    script = panel.aria.value
    assert "role" in script and "group" in script and "aria-live" in script and "polite" in script
    assert "Check \u201cStart Postfix" in script and "Check of the step \u201cStart Postfix" in script
    assert panel.aria.layout.display == "none"


@pytest.fixture(autouse=True)
def _no_leftover_work():
    yield
    session_thread.call(lambda: None)  # every action of the test has finished
