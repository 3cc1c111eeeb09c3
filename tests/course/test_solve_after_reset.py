"""`maillab solve LAB STEP` right after `maillab reset LAB STEP`, for every step of every lab: solve
replays the reference solutions of every earlier step too, so each must work whatever state the
step's start leaves (a machine stopped on purpose, a service down) and the step then PASSES."""
from __future__ import annotations

import pytest

from grader import course
from grader.result import Status

from .conftest import LEARNER

pytestmark = pytest.mark.machine


@pytest.mark.parametrize("lab_id", [lab.id for lab in course.all_labs()])
def test_solve_after_reset_works_for_every_step(lab_session, lab_id):
    session = lab_session(lab_id)
    assert session.learner == LEARNER
    failures = []
    for step in session.lab.steps:
        session.reset(step.id)
        try:
            session.solve(step.id)
        except Exception as exc:  # noqa: BLE001 - every step is tried, all failures reported at once
            failures.append(f"{step.id}: solve failed: {exc}")
            continue
        result = session.check(step.id)
        if result.status is not Status.PASS:
            failures.append(f"{step.id}: {result.status.value} after solve: {result.first_problem}")
    assert not failures, "\n".join(failures)
