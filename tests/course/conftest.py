"""Fixtures for the course's labs on real machines: a session per lab, shell helpers, notebooks."""
from __future__ import annotations

import os

import pytest

from grader import course
from grader.result import Status
from classroom.session import LabSession, open_session

LEARNER = os.environ.get("MAILLAB_TEST_LEARNER", "pytest-course")  # runs side by side use their own


@pytest.fixture(autouse=True)
def _own_learner_and_gradebook(tmp_path_factory, monkeypatch):
    """Tests use their own learner name and gradebook: a learner's machines and grades are never touched."""
    monkeypatch.setenv("MAILLAB_LEARNER", LEARNER)
    monkeypatch.setenv("MAILLAB_GRADEBOOK", str(tmp_path_factory.getbasetemp() / "gradebook.sqlite"))


@pytest.fixture(autouse=True)
def _fresh_tapes(request):
    """With MAILLAB_RECORD=DIR, each check a test asks is recorded in DIR (grader.tape, for the
    unit tests): this test's earlier tapes go first, so a new recording replaces them."""
    folder = os.environ.get("MAILLAB_RECORD")
    if folder:
        from pathlib import Path

        from grader import tape

        for old in Path(folder).glob(f"*/*/{tape.stem(request.node.nodeid)}--*.json.gz"):
            old.unlink()


@pytest.fixture
def lab_session():
    """`lab_session("addresses")`: that lab's session for the test learner; its machines and
    network are removed afterwards."""
    opened: list[LabSession] = []

    def open_one(lab_id: str, drawn: tuple[str, ...] | None = None) -> LabSession:
        """`drawn`: the faults a lab with a pool gives the machines (else the test learner's draw)."""
        session = open_session(lab_id, LEARNER) if drawn is None else \
            LabSession(course.find(lab_id), LEARNER, drawn=drawn)
        opened.append(session)
        return session

    yield open_one
    for session in opened:
        for machine in session.machines():
            machine.destroy()
        network = session.network()
        if network is not None:
            network.destroy()


def sh(session: LabSession, script: str, machine: str | None = None, timeout: float = 120):
    """Run a bash script as root inside a lab machine; a failing script fails the test."""
    done = session.machine(machine).exec(["/bin/bash", "-c", script], timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"setup script failed ({done.returncode}): {done.err or done.out}")
    return done


def first_problem(session: LabSession, step: str):
    """The first FAIL or ERROR item of checking `step` (the step must not pass)."""
    result = session.check(step)
    assert result.status is not Status.PASS, str(result)
    return result.first_problem
