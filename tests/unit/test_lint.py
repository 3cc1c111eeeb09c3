"""`maillab lab lint` finds what a lab author forgot, without a machine: a step with no promise, no
check or no reference solution, a `fresh_fails` that is not one of the step's checks, and a check
whose `step=` is misspelt (it would never run)."""
from pathlib import Path

from grader import lab as labs
from classroom import lint
from classroom.cli import EXIT_FAIL, EXIT_PASS, main

LAB = """
id = "demo"
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

CHECKS = """
from grader import check

@check(step="one", hint="do one")
def first_check(host):
    return "ok"

@check(step="two", hint="do two")
def second_check(host):
    return "ok"
"""


def make(tmp_path: Path, toml: str = LAB, checks: str = CHECKS, solved=("one", "two")) -> Path:
    folder = tmp_path / "labs" / "01-demo"
    (folder / "solve").mkdir(parents=True)
    (folder / "lab.toml").write_text(toml)
    (folder / "checks.py").write_text(checks)
    for step in solved:
        (folder / "solve" / f"{step}.sh").write_text("true\n")
    return folder


def test_a_complete_lab_has_no_problems(tmp_path):
    assert lint.problems(labs.load(make(tmp_path))) == []


def test_a_missing_promise_is_named(tmp_path):
    toml = "\n".join(line for line in LAB.splitlines() if not line.startswith('promise = "alice'))
    assert lint.problems(labs.load(make(tmp_path, toml))) == [
        'demo two: no promise in lab.toml: say in a few words everyone and everything a PASS stands for '
        '(promise = "...").']


def test_a_misspelt_step_never_runs_and_is_named(tmp_path):
    found = lint.problems(labs.load(make(tmp_path, checks=CHECKS.replace('step="two"', 'step="tow"'))))
    assert any("second_check" in p and "'tow'" in p and "never run" in p for p in found), found
    assert any(p == "demo two: no check in checks.py." for p in found), found


def test_fresh_fails_must_name_a_check_of_the_step(tmp_path):
    found = lint.problems(labs.load(make(tmp_path, LAB.replace('"second_check"', '"first_check"'))))
    assert found == ["demo two: fresh_fails names 'first_check', which is not one of its checks (second_check)."]


def test_a_step_without_a_reference_solution(tmp_path):
    assert lint.problems(labs.load(make(tmp_path, solved=("one",)))) == ["demo two: no reference solution in solve/."]


def test_checks_that_do_not_load_are_one_sentence(tmp_path):
    found = lint.problems(labs.load(make(tmp_path, checks="import nothing_of_that_name\n")))
    assert len(found) == 1 and found[0].startswith("demo: Loading") and "ModuleNotFoundError" in found[0]


def test_the_command_prints_each_problem_and_fails(tmp_path, monkeypatch, capsys):
    make(tmp_path, solved=("one",))
    monkeypatch.setenv("MAILLAB_LABS", str(tmp_path / "labs"))
    assert main(["lab", "lint"]) == EXIT_FAIL
    assert "demo two: no reference solution in solve/." in capsys.readouterr().out
    (tmp_path / "labs" / "01-demo" / "solve" / "two.sh").write_text("true\n")
    assert main(["lab", "lint", "demo"]) == EXIT_PASS
    assert "Nothing to fix: every step of demo has a promise" in capsys.readouterr().out
