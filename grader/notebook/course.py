"""The course home: the map of the labs, the learner's progress, and where to continue.

`maillab up` writes the home notebook into the workspace each time it starts, with the map already
drawn; running its cell draws the map again from the gradebook. It holds no work of the learner's, so rewriting it loses nothing.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOME_NOTEBOOK = "00-course-home.ipynb"

# What the home page says, in one place (a translated edition replaces these).
TEXT = {
    "intro": (
        "# MailLab · Linux mail servers, hands-on\n\n"
        "Each lab below is a notebook. You read it, and you do every step on a real Debian machine of "
        "your own, as `root`. At the end of each step a **Check** button asks the grader, which looks at "
        "your machine from the outside and tells you what it saw and what to do next.\n\n"
        "* Click a lab's name to open it, then run its cells from the top.\n"
        "* *File → New → Terminal* opens a root shell on your machine; the `machine` folder in the file "
        "browser shows its files (for example `machine/etc/postfix/main.cf`).\n\n"
        "This page is redrawn each time MailLab starts. Run the cell below to redraw it now."),
    "cell": "from grader.notebook import course_home\ncourse_home()",
    "caption": "The labs and how far you are",
    "lab": "Lab", "progress": "Your progress", "next": "Next step",
    "done": "all {total} steps passed",
    "some": "{passed} of {total} steps passed",
    "none": "not started",
    "continue": "Continue with lab {number:02d}, <a href=\"{href}\">{title}</a>: step \u201c{step}\u201d.",
    "finished": "You have passed every step of every lab. Well done!",
    "unknown": "Your progress could not be read ({why}); the labs are all here.",
    "all_done": "\u2014",
}
LEFT = ' style="text-align:left;vertical-align:top"'  # JupyterLab right-aligns table cells
MARKS = {"done": "\u2714", "some": "\u25d0", "none": "\u25cb"}


def notebook_name(lab: Any) -> str:
    """The lab's notebook in the workspace, e.g. 02-install-postfix.ipynb."""
    return f"{lab.number:02d}-{lab.id}.ipynb"


def course_notebooks() -> list[tuple[Path, str]]:
    """(source, name in the workspace) for every lab's notebook."""
    from grader import lab as labs

    return [(lab.notebook, notebook_name(lab)) for lab in labs.all_labs()]


@dataclass(frozen=True)
class LabProgress:
    lab: Any
    passed: tuple[bool, ...]

    @property
    def state(self) -> str:
        if all(self.passed):
            return "done"
        return "some" if any(self.passed) else "none"

    @property
    def next_step(self) -> Any | None:
        for step, ok in zip(self.lab.steps, self.passed):
            if not ok:
                return step
        return None


def course_progress(learner: str | None = None) -> list[LabProgress]:
    """Every lab, with which of its steps the learner has passed (from the gradebook)."""
    from grader import lab as labs
    from grader.session import LabSession

    found = []
    for lab in labs.all_labs():
        progress = LabSession(lab, learner).progress()
        found.append(LabProgress(lab, tuple(bool(progress.get(s.id, {}).get("passed_now")) for s in lab.steps)))
    return found


def home_html(progress: list[LabProgress]) -> str:
    """The map: one row per lab (status as icon and words), and where to continue."""
    rows = []
    for item in progress:
        lab, state = item.lab, item.state
        words = TEXT[state].format(passed=sum(item.passed), total=len(item.passed))
        step = item.next_step
        rows.append(
            f'<tr class="maillab-lab maillab-{state}"><td{LEFT}>{lab.number:02d}</td>'
            f'<td{LEFT}><a href="{html.escape(notebook_name(lab))}"><strong>{html.escape(lab.title)}</strong></a>'
            f'<br><small>{html.escape(lab.summary)}</small></td>'
            f'<td{LEFT}><span aria-hidden="true">{MARKS[state]}</span> {words}</td>'
            f"<td{LEFT}>{html.escape(step.title) if step else TEXT['all_done']}</td></tr>")
    table = (f'<table class="maillab-course-map"><caption>{TEXT["caption"]}</caption>'
             f'<thead><tr><th{LEFT}>#</th><th{LEFT}>{TEXT["lab"]}</th><th{LEFT}>{TEXT["progress"]}</th>'
             f'<th{LEFT}>{TEXT["next"]}</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return f'<div class="maillab-home">{continue_html(progress)}{table}</div>'


def continue_html(progress: list[LabProgress]) -> str:
    for item in progress:
        step = item.next_step
        if step is not None:
            text = TEXT["continue"].format(number=item.lab.number, href=html.escape(notebook_name(item.lab)),
                                           title=html.escape(item.lab.title), step=html.escape(step.title))
            return f'<p class="maillab-continue"><span aria-hidden="true">\u27a1</span> {text}</p>'
    return f'<p class="maillab-continue"><span aria-hidden="true">\u2714</span> {TEXT["finished"]}</p>'


def current_home_html(learner: str | None = None) -> str:
    try:
        return home_html(course_progress(learner))
    except Exception as exc:  # the map without progress beats no map at all
        from grader import lab as labs

        note = f'<p role="alert">{html.escape(TEXT["unknown"].format(why=exc))}</p>'
        try:
            return note + home_html([LabProgress(lab, (False,) * len(lab.steps)) for lab in labs.all_labs()])
        except Exception:
            return note


def course_home(learner: str | None = None) -> None:
    """Draw the course map in the notebook (the home notebook's one code cell)."""
    from IPython.display import HTML, display

    display(HTML(current_home_html(learner)))


def write_home(workspace: Path, *, kernel: dict[str, str]) -> Path:
    """Write the home notebook with the map drawn now. Replaces the previous one: it holds
    nothing of the learner's. Plain nbformat 4 JSON, written without the nbformat package, whose
    import alone takes most of a second of `maillab up`'s start."""
    def cell(cell_id: str, kind: str, source: str, **more: Any) -> dict[str, Any]:
        return {"cell_type": kind, "id": cell_id, "metadata": {}, "source": source, **more}

    notebook = {
        "cells": [
            cell("course-intro", "markdown", TEXT["intro"]),
            cell("course-map", "code", TEXT["cell"], execution_count=None, outputs=[{
                "output_type": "display_data", "metadata": {},
                "data": {"text/html": current_home_html(), "text/plain": "The course map"}}]),
        ],
        "metadata": {"kernelspec": dict(kernel)},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path = Path(workspace) / HOME_NOTEBOOK
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path
