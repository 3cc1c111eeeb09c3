"""Lab folders are data: a good one loads, a wrong one is named with what is wrong."""
from pathlib import Path

import pytest

from grader import course
from grader.check import load_checks
from grader.errors import MailLabError, UsageError
from classroom.layers import solve_scripts

GOOD = """
id = "demo"
title = "Demo"
[[machines]]
name = "mail"
hostname = "mail"
domain = "example.test"
[[steps]]
id = "one"
title = "One"
[[steps]]
id = "two"
title = "Two"
"""


def write(tmp_path: Path, text: str, folder="05-demo") -> Path:
    d = tmp_path / folder
    d.mkdir()
    (d / "lab.toml").write_text(text)
    return d


def test_a_good_lab_loads(tmp_path):
    lab = course.load(write(tmp_path, GOOD))
    assert (lab.id, lab.number, [s.id for s in lab.steps]) == ("demo", 5, ["one", "two"])
    assert lab.machine().hostname == "mail" and lab.step_index("two") == 1


@pytest.mark.parametrize("text, words", [
    ("id = ", "is not valid TOML"),
    ('title = "no id"\n[[steps]]\nid="a"\ntitle="A"', "not a valid lab description"),
    (GOOD.replace('id = "two"', 'id = "one"'), "two steps have the same id"),
    (GOOD.replace('id = "two"', 'id = "Two Words"'), "lower-case letters"),
    (GOOD + '\nunknown_key = 1\n[[steps]]\nid="x"\ntitle="X"\ncolour="red"', "not a valid lab description"),
])
def test_a_wrong_lab_toml_is_named(tmp_path, text, words):
    folder = write(tmp_path, text)
    with pytest.raises(MailLabError) as caught:
        course.load(folder)
    assert words in str(caught.value) and str(folder / "lab.toml") in str(caught.value)


def test_unknown_step_and_machine_list_the_known_ones(tmp_path):
    lab = course.load(write(tmp_path, GOOD))
    with pytest.raises(UsageError, match="Its steps are: one, two"):
        lab.step("three")
    with pytest.raises(UsageError, match="Its machines are: mail"):
        lab.machine("mail2")


def test_every_course_lab_is_complete():
    """Each lab has a notebook, and every step has checks with hints and a reference solution."""
    for lab in course.all_labs():
        checks = load_checks(lab.checks_file)
        assert lab.notebook.is_file(), lab.id
        for step in lab.steps:
            assert checks.get(step.id), f"{lab.id}/{step.id} has no checks"
            assert all(c.hint for c in checks[step.id])
            assert any(solve_scripts(lab, step.id, m.name) for m in lab.machines), \
                f"{lab.id}/{step.id} has no solve script"
            if step.fresh_fails:
                assert step.fresh_fails in [c.name for c in checks[step.id]]
        import nbformat
        sources = "\n".join(c.source for c in nbformat.read(lab.notebook, as_version=4).cells)
        for step in lab.steps:
            assert f'lab.check("{step.id}")' in sources, f"{lab.id}: no check cell for {step.id}"
