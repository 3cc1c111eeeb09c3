"""The course home: the map of the labs, the learner's progress, where to continue."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import nbformat

from classroom.notebook import home


def lab(number, lab_id, title, steps):
    return SimpleNamespace(number=number, id=lab_id, title=title, summary=f"About {title}.",
                           steps=[SimpleNamespace(id=s.lower(), title=s) for s in steps],
                           notebook=Path("lab.ipynb"), notebook_in=lambda lang: Path("lab.ipynb"))


LABS = [lab(2, "install-postfix", "Install Postfix", ["Install", "Start", "Deliver"]),
        lab(3, "local-users", "Local users", ["Add", "Aliases"])]


def test_the_map_shows_each_labs_progress_in_words_and_icons():
    shown = home.home_html([home.LabProgress(LABS[0], (True, True, False)),
                              home.LabProgress(LABS[1], (False, False))])
    assert '<a href="02-install-postfix.ipynb"><strong>Install Postfix</strong></a>' in shown
    assert "\u25d0</span> 2 of 3 steps passed" in shown
    assert "\u25cb</span> not started" in shown
    assert ("Continue with lab 02, <a href=\"02-install-postfix.ipynb\">Install Postfix</a>: "
            "step \u201cDeliver\u201d.") in shown


def test_the_map_says_how_steps_were_passed_and_when():
    shown = home.home_html([home.LabProgress(LABS[0], ("passed", "helped", "skipped"), "2025-01-02T10:00:05+00:00"),
                            home.LabProgress(LABS[1], ("solved", "failed"))])
    assert "2 of 3 steps passed (1 with help, 1 skipped); last on 2025-01-02 " in shown
    assert "0 of 2 steps passed (1 with the solution)" in shown or "not started (1 with the solution)" in shown


def test_a_finished_lab_sends_the_learner_to_the_next():
    shown = home.home_html([home.LabProgress(LABS[0], (True, True, True)),
                              home.LabProgress(LABS[1], (True, False))])
    assert "\u2714</span> all 3 steps passed" in shown
    assert "Continue with lab 03" in shown and "\u201cAliases\u201d" in shown


def test_everything_passed_says_so():
    shown = home.home_html([home.LabProgress(LABS[0], (True,) * 3)])
    assert "You have passed every step of every lab" in shown


def test_titles_are_never_markup():
    evil = lab(9, "x", "<img src=x onerror=alert(1)>", ["<b>"])
    shown = home.home_html([home.LabProgress(evil, (False,))])
    assert "<img" not in shown and "&lt;img" in shown


def test_the_home_notebook_is_a_valid_notebook_with_the_map_drawn(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAB_GRADEBOOK", str(tmp_path / "gradebook.sqlite"))
    monkeypatch.setenv("MAILLAB_LEARNER", "course-test")
    path = home.write_home(tmp_path, kernel={"name": "maillab", "display_name": "MailLab (Python 3)"})
    assert path.name == home.HOME_NOTEBOOK
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    shown = notebook.cells[1].outputs[0]["data"]["text/html"]
    assert "02-install-postfix.ipynb" in shown and "Continue with lab 01" in shown
    assert notebook.cells[1].source == "from classroom.notebook import course_home\ncourse_home()"
    assert notebook.metadata.kernelspec.name == "maillab"
    path.write_text("{}")
    assert home.write_home(tmp_path, kernel={"name": "maillab", "display_name": "MailLab (Python 3)"}) == path  # rewritten each time
    assert nbformat.read(path, as_version=4).cells


def test_course_notebooks_name_every_lab():
    names = [name for _source, name in home.course_notebooks()]
    assert "02-install-postfix.ipynb" in names
    assert all(Path(source).name == "lab.ipynb" for source, _ in home.course_notebooks())
