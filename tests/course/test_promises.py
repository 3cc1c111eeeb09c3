"""Every step of the course says what its PASS promises (lab.toml) and has at least three wrong
states hunted against that promise: each a test in the lab's test file, listed in its HUNTED table
with a line on why it is wrong although it looks right (a state tested in another file of the
course is named "test_file.py::test_name")."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from grader import course
from classroom import lint

COURSE = course.all_labs()
HERE = Path(__file__).resolve().parent


def test_the_course_lints_clean():
    assert [p for lab in COURSE for p in lint.problems(lab)] == []


def test_promises_are_a_few_words():
    for lab in COURSE:
        for step in lab.steps:
            assert 20 <= len(step.promise) <= 600, f"{lab.id} {step.id}: {len(step.promise)} characters"


def _test_module(lab: course.Lab):
    found = sorted(HERE.glob(f"test_{lab.number:02d}_*.py"))
    assert len(found) == 1, f"lab {lab.id} needs one test file tests/course/test_{lab.number:02d}_*.py"
    return importlib.import_module(f"tests.course.{found[0].stem}")


# Labs whose wrong states are not hunted yet (the issue stays open for them). Strict: a lab that
# gets its HUNTED table fails here until it is taken off this list.
NOT_HUNTED_YET: set[str] = set()


@pytest.mark.parametrize("lab", [pytest.param(lab, marks=pytest.mark.xfail(
    lab.id in NOT_HUNTED_YET, reason="its wrong states are not hunted yet", strict=True)) for lab in COURSE],
    ids=[lab.id for lab in COURSE])
def test_every_step_has_three_hunted_wrong_states(lab):
    module = _test_module(lab)
    hunted = getattr(module, "HUNTED", None)
    assert isinstance(hunted, dict), f"{module.__name__} has no HUNTED table"
    assert set(hunted) == {s.id for s in lab.steps}, f"HUNTED names {sorted(hunted)}, the lab's steps differ"
    for step, states in hunted.items():
        assert len(states) >= 3, f"{lab.id} {step}: {len(states)} hunted wrong states, at least 3 wanted"
        assert len({name for name, _ in states}) == len(states), f"{lab.id} {step}: a test is listed twice"
        for name, why in states:
            home, test = name.split("::", 1) if "::" in name else (module.__name__, name)
            if "::" in name:  # a state hunted in another test file of the course: "test_file::test_name"
                home = f"tests.course.{home.removesuffix('.py')}"
            function = getattr(importlib.import_module(home), test.split("[", 1)[0], None)
            assert callable(function) and test.startswith("test_"), f"{lab.id} {step}: no test {name}"
            assert len(why.split()) >= 5, f"{lab.id} {step} {name}: say why it is wrong"


def test_the_count_of_hunted_states():
    """At least three per step of every hunted lab: a floor."""
    hunted = [lab for lab in COURSE if lab.id not in NOT_HUNTED_YET]
    total = sum(len(states) for lab in hunted for states in getattr(_test_module(lab), "HUNTED", {}).values())
    steps = sum(len(lab.steps) for lab in hunted)
    assert total >= 3 * steps, f"{total} hunted wrong states for {steps} steps"
