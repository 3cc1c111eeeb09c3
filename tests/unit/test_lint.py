"""`maillab lab lint` finds what a lab author forgot, without a machine, naming the file and line:
a step with no promise, no check, no reference solution or no check cell in a notebook, a
`fresh_fails` that is not one of the step's checks, a check whose `step=` is misspelt (it would
never run), and learner-facing text with no translation."""
import json
from pathlib import Path

import pytest

from classroom import lint
from classroom.cli import EXIT_FAIL, EXIT_PASS, main
from grader import i18n
from grader import course

LAB = """id = "demo"
title = "Demo"

[[steps]]
id = "one"
title = "One"
fresh_fails = "first_check"
promise = "root gets mail sent with sendmail inside the machine."

[[steps]]
id = "two"
title = "Two"
fresh_fails = "second_check"
promise = "alice and bob each get mail from outside over SMTP."
"""

CHECKS = """from grader import check


@check(step="one", hint="do one")
def first_check(host):
    return "ok"


@check(step="two", hint="do two")
def second_check(host):
    return "ok"
"""


def notebook(*steps: str) -> str:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Demo"]}]
    cells += [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
               "source": [f'lab.check("{step}")']} for step in steps]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture(autouse=True)
def _english_only(monkeypatch):
    monkeypatch.setattr(i18n, "available", lambda: ("en",))


def make(tmp_path: Path, toml: str = LAB, checks: str = CHECKS, solved=("one", "two"), cells=("one", "two")) -> Path:
    folder = tmp_path / "labs" / "01-demo"
    (folder / "solve").mkdir(parents=True)
    (folder / "lab.toml").write_text(toml)
    (folder / "checks.py").write_text(checks)
    (folder / "lab.ipynb").write_text(notebook(*cells))
    for step in solved:
        (folder / "solve" / f"{step}.sh").write_text("true\n")
    return folder


def test_a_complete_lab_has_no_problems(tmp_path):
    assert lint.problems(course.load(make(tmp_path))) == []


def test_a_missing_promise_is_named_with_its_line(tmp_path):
    toml = "\n".join(line for line in LAB.splitlines() if not line.startswith('promise = "alice'))
    assert lint.problems(course.load(make(tmp_path, toml))) == [
        '01-demo/lab.toml:11: step two has no promise: say in a few words everyone and everything a PASS stands '
        'for (promise = "...").']


def test_a_misspelt_step_never_runs_and_is_named(tmp_path):
    found = lint.problems(course.load(make(tmp_path, checks=CHECKS.replace('step="two"', 'step="tow"'))))
    assert found == ["01-demo/lab.toml:11: step two has no check in checks.py.",
                     "01-demo/checks.py:9: check second_check is declared for step 'tow', which the lab does not "
                     "have: it would never run."]


def test_fresh_fails_must_name_a_check_of_the_step(tmp_path):
    found = lint.problems(course.load(make(tmp_path, LAB.replace('"second_check"', '"first_check"'))))
    assert found == ["01-demo/lab.toml:11: the fresh_fails of step two names 'first_check', which is not one of its "
                     "checks (second_check)."]


def test_a_pool_fault_that_is_never_planted_or_never_repaired(tmp_path):
    folder = make(tmp_path, LAB + "\n[pool]\ndraw = 1\n")
    for fault, files in (("good", ("plant.sh", "two.sh")), ("unplanted", ("two.sh",)), ("unrepaired", ("plant.sh",))):
        (folder / "faults" / fault).mkdir(parents=True)
        for name in files:
            (folder / "faults" / fault / name).write_text("true\n")
    assert lint.problems(course.load(folder)) == [
        "faults/unplanted: there is no plant.sh, so this fault is never given to anyone.",
        "faults/unrepaired: no step's reference solution repairs it (faults/unrepaired/STEP.sh, e.g. repair.sh)."]


def test_a_step_without_a_reference_solution(tmp_path):
    assert lint.problems(course.load(make(tmp_path, solved=("one",)))) == [
        "01-demo/lab.toml:11: step two has no reference solution (solve/two.sh)."]


def test_every_notebook_edition_checks_every_step(tmp_path):
    folder = make(tmp_path, cells=("one", "won"))
    (folder / "lab.zh.ipynb").write_text(notebook("one", "two"))
    assert lint.problems(course.load(folder)) == [
        "01-demo/lab.ipynb cell 3: checks step won, which the lab does not have.",
        '01-demo/lab.ipynb: no check cell for step two (lab.check("two")).']


def test_text_without_a_translation_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(i18n, "available", lambda: ("en", "zh"))
    found = lint.problems(course.load(make(tmp_path)))
    assert '01-demo/lab.toml: no zh translation of "Demo".' in found
    assert '01-demo/checks.py:4: no zh translation of "do one".' in found


def test_checks_that_do_not_load_are_one_sentence(tmp_path):
    found = lint.problems(course.load(make(tmp_path, checks="import nothing_of_that_name\n")))
    assert len(found) == 1 and found[0].startswith("01-demo/checks.py: Loading") and "ModuleNotFoundError" in found[0]


def test_the_command_prints_each_problem_and_fails(tmp_path, monkeypatch, capsys):
    make(tmp_path, solved=("one",))
    monkeypatch.setenv("MAILLAB_LABS", str(tmp_path / "labs"))
    assert main(["lab", "lint"]) == EXIT_FAIL
    assert "step two has no reference solution" in capsys.readouterr().out
    (tmp_path / "labs" / "01-demo" / "solve" / "two.sh").write_text("true\n")
    assert main(["lab", "lint", "demo"]) == EXIT_PASS
    assert "Nothing to fix: every step of demo has" in capsys.readouterr().out


def test_a_notebook_where_the_learner_acts_gives_every_hands_on_step_an_empty_place(tmp_path):
    """Issue 16: once a notebook has a place to act, each hands-on step has one, and it starts empty."""
    folder = make(tmp_path)
    nb = json.loads((folder / "lab.ipynb").read_text())
    nb["cells"].insert(1, {"cell_type": "code", "metadata": {"maillab": {"learner": "one"}}, "execution_count": None,
                           "outputs": [], "source": ["%%bash\n", "# your commands\n", "service postfix start\n"]})
    (folder / "lab.ipynb").write_text(json.dumps(nb))
    found = lint.problems(course.load(folder))
    assert any("cell 2: the learner's cell for step one must start empty" in p for p in found)
    assert any("no cell for the learner's commands in step two" in p for p in found)


def test_a_step_names_a_machine_of_the_lab(tmp_path):
    toml = LAB.replace('id = "two"\n', 'id = "two"\nmachine = "mail2"\n')
    lab = course.load(make(tmp_path, toml))
    assert lab.step_machine("one") == "mail" and lab.step_machine("two") == "mail2"
    assert lint.problems(lab) == [
        "01-demo/lab.toml:11: step two names machine 'mail2', which the lab does not have (its machines: mail)."]
    with_two = toml + '\n[[machines]]\nname = "mail"\nhostname = "mail"\ndomain = "example.test"\n' \
                      '\n[[machines]]\nname = "mail2"\nhostname = "mail2"\ndomain = "example.test"\n'
    assert lint.problems(course.load(make(tmp_path / "b", with_two))) == []
