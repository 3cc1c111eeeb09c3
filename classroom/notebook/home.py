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

from grader.i18n import DEFAULT, N_, language, tr

HOME_NOTEBOOK = "00-course-home.ipynb"

# What the home page says, in one place (translated through the catalog, grader/i18n.py).
TEXT = {
    "intro": N_(
        "# MailLab · Linux mail servers, hands-on\n\n"
        "Each lab below is a notebook. You read it, and you do every step on a real Debian machine of "
        "your own, as `root`. At the end of each step a **Check** button asks the grader, which looks at "
        "your machine from the outside and tells you what it saw and what to do next.\n\n"
        "* Click a lab's name to open it, then run its cells from the top.\n"
        "* *File → New → Terminal* opens a root shell on your machine; the `machines` folder in the file "
        "browser shows the files of each lab's machines (for example "
        "`machines/install-postfix/mail/etc/postfix/main.cf`).\n\n"
        "This page is redrawn each time MailLab starts. Run the cell below once: the map then follows your "
        "progress by itself, whatever notebook you check, skip or reset a step in."),
    "caption": N_("The labs and how far you are"),
    "lab": N_("Lab"), "progress": N_("Your progress"), "next": N_("Next step"),
    "done": N_("all {total} steps passed"),
    "some": N_("{passed} of {total} steps passed"),
    "none": N_("not started"),
    # After "2 of 3 steps passed": how, from the gradebook (each part only when it is not zero).
    "helped": N_("{count} with help"),
    "skipped": N_("{count} skipped"),
    "solved": N_("{count} with the solution"),
    "latest": N_("last on {when}"),
    "continue": N_("Continue with lab {number}, <a href=\"{href}\">{title}</a>: step \u201c{step}\u201d."),
    "finished": N_("You have passed every step of every lab. Well done!"),
    "unknown": N_("Your progress could not be read ({why}); the labs are all here."),
    "map": N_("The course map"),
    # Shown in the other edition's language, on its home page: a link to this edition.
    "edition": N_("This course in English: [the course home]({href})"),
}
ALL_DONE = "\u2014"
LEFT = ' style="text-align:left;vertical-align:top"'  # JupyterLab right-aligns table cells
MARKS = {"done": "\u2714", "some": "\u25d0", "none": "\u25cb"}


def edition(name: str, lang: str | None) -> str:
    """A notebook's name in the workspace for an edition: 02-install-postfix.ipynb in English,
    02-install-postfix.zh.ipynb in Chinese."""
    return name if not lang or lang == DEFAULT else name.replace(".ipynb", f".{lang}.ipynb")


def notebook_name(lab: Any, lang: str | None = None) -> str:
    """The lab's notebook in the workspace, e.g. 02-install-postfix.ipynb."""
    return edition(f"{lab.number:02d}-{lab.id}.ipynb", lang)


def lab_notebook_name(lab: Any, lang: str) -> str:
    """The lab's notebook of this edition in the workspace, or the English one when the lab has no
    translation."""
    return notebook_name(lab, lang if lab.notebook_in(lang) != lab.notebook else None)


def home_name(lang: str | None = None) -> str:
    return edition(HOME_NOTEBOOK, lang)


def course_notebooks(lang: str | None = None) -> list[tuple[Path, str]]:
    """(source, name in the workspace) for every lab's notebook in one edition (English by default);
    a lab without a translation gives its English notebook."""
    from grader import course

    lang = lang or DEFAULT
    return [(lab.notebook_in(lang), lab_notebook_name(lab, lang)) for lab in course.all_labs()]


def every_edition() -> list[tuple[Path, str]]:
    """The notebooks of every language the course has, side by side in the workspace
    (01-how-mail-works.ipynb, 01-how-mail-works.zh.ipynb, ...): a learner may switch at any time,
    and their progress is the same in both."""
    from grader.i18n import available

    found: dict[str, Path] = {}
    for lang in available():
        for source, name in course_notebooks(lang):
            found.setdefault(name, source)
    return [(source, name) for name, source in found.items()]


PASSED = ("passed", "helped")


@dataclass(frozen=True)
class LabProgress:
    """A lab and its steps' states (Gradebook.step_states: passed, helped, skipped, solved, failed,
    reset, todo), with the time of the learner's latest activity in it."""
    lab: Any
    states: tuple[str, ...]
    latest: str = ""

    def __post_init__(self) -> None:  # True/False as passed/to do, as older callers give them
        object.__setattr__(self, "states", tuple(
            ("passed" if state else "todo") if isinstance(state, bool) else state for state in self.states))

    @property
    def passed(self) -> tuple[bool, ...]:
        return tuple(state in PASSED for state in self.states)

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
    from grader import course
    from classroom.session import LabSession

    from .panel import state_of

    found = []
    for lab in course.all_labs():
        progress = LabSession(lab, learner).progress()
        states = [state_of(progress.get(s.id)) for s in lab.steps]
        found.append(LabProgress(lab, tuple(state for state, _at in states),
                                 max((at for _state, at in states if at), default="")))
    return found


def progress_words(item: LabProgress, lang: str) -> str:
    """"2 of 3 steps passed (1 with help), 1 skipped; last on 10:02:05"."""
    from .panel import when_text

    state = item.state
    words = tr(TEXT[state], lang, passed=sum(item.passed), total=len(item.passed))
    how = [tr(TEXT[kind], lang, count=item.states.count(kind)) for kind in ("helped", "skipped", "solved")
           if item.states.count(kind)]
    if how:
        words += f" ({', '.join(how)})"
    if item.latest and when_text(item.latest):
        words += f"; {tr(TEXT['latest'], lang, when=when_text(item.latest))}"
    return html.escape(words)


def home_html(progress: list[LabProgress], lang: str | None = None) -> str:
    """The map: one row per lab (status as icon and words), and where to continue."""
    lang = lang or language()
    rows = []
    for item in progress:
        lab, state = item.lab, item.state
        words = progress_words(item, lang)
        step = item.next_step
        rows.append(
            f'<tr class="maillab-lab maillab-{state}"><td{LEFT}>{lab.number:02d}</td>'
            f'<td{LEFT}><a href="{html.escape(lab_notebook_name(lab, lang))}">'
            f'<strong>{html.escape(tr(lab.title, lang))}</strong></a>'
            f'<br><small>{html.escape(tr(lab.summary, lang))}</small></td>'
            f'<td{LEFT}><span aria-hidden="true">{MARKS[state]}</span> {words}</td>'
            f"<td{LEFT}>{html.escape(tr(step.title, lang)) if step else ALL_DONE}</td></tr>")
    table = (f'<table class="maillab-course-map"><caption>{tr(TEXT["caption"], lang)}</caption>'
             f'<thead><tr><th{LEFT}>#</th><th{LEFT}>{tr(TEXT["lab"], lang)}</th>'
             f'<th{LEFT}>{tr(TEXT["progress"], lang)}</th>'
             f'<th{LEFT}>{tr(TEXT["next"], lang)}</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return f'<div class="maillab-home">{continue_html(progress, lang)}{table}</div>'


def continue_html(progress: list[LabProgress], lang: str | None = None) -> str:
    lang = lang or language()
    for item in progress:
        step = item.next_step
        if step is not None:
            text = tr(TEXT["continue"], lang, number=f"{item.lab.number:02d}",
                      href=html.escape(lab_notebook_name(item.lab, lang)),
                      title=html.escape(tr(item.lab.title, lang)), step=html.escape(tr(step.title, lang)))
            return f'<p class="maillab-continue"><span aria-hidden="true">\u27a1</span> {text}</p>'
    return f'<p class="maillab-continue"><span aria-hidden="true">\u2714</span> {tr(TEXT["finished"], lang)}</p>'


def current_home_html(learner: str | None = None, lang: str | None = None) -> str:
    lang = lang or language()
    try:
        return home_html(course_progress(learner), lang)
    except Exception as exc:  # the map without progress beats no map at all
        from grader import course

        note = f'<p role="alert">{html.escape(tr(TEXT["unknown"], lang, why=exc))}</p>'
        try:
            return note + home_html([LabProgress(lab, ("todo",) * len(lab.steps)) for lab in course.all_labs()], lang)
        except Exception:
            return note


HOME_POLL_SECONDS = 5.0


def course_home(learner: str | None = None, lang: str | None = None, *, poll: float = HOME_POLL_SECONDS) -> Any:
    """Draw the course map in the notebook (the home notebook's one code cell), in `lang`
    (default: the learner's language). The map follows the gradebook while the notebook is open:
    a check, skip or reset in any lab's notebook shows here within `poll` seconds."""
    import threading

    import ipywidgets as widgets
    from IPython.display import display

    lang = lang or language()
    # An Output widget, not an HTML one: its HTML is drawn by JupyterLab itself, whose links open
    # the lab's notebook in a tab (a plain link in an HTML widget would reload the page).
    view = widgets.Output()
    view.add_class("maillab-home-view")
    drawn = current_home_html(learner, lang)

    def draw(text: str) -> None:
        view.outputs = ({"output_type": "display_data", "metadata": {},
                         "data": {"text/html": text, "text/plain": tr(TEXT["map"], lang)}},)

    draw(drawn)
    # The live map for JupyterLab, and the map as plain HTML for any other reader of the notebook.
    bundle = dict(view._repr_mimebundle_() or {})
    bundle["text/html"] = drawn
    display(bundle, raw=True)
    if poll > 0:
        def follow() -> None:
            while view.comm is not None:  # closed with the widget
                stop.wait(poll)
                if stop.is_set():
                    return
                try:
                    now = current_home_html(learner, lang)
                except Exception:
                    continue
                if now != shown[0]:
                    shown[0] = now
                    draw(now)

        shown = [drawn]
        stop = threading.Event()
        view._maillab_stop = stop  # a test (or a re-run) ends the thread with stop.set()
        for old in _FOLLOWERS:
            old.set()  # a re-run cell draws a new map: the old one stops following
        _FOLLOWERS[:] = [stop]
        threading.Thread(target=follow, name="maillab-home", daemon=True).start()
    return None


_FOLLOWERS: list[Any] = []


def home_cell(lang: str) -> str:
    args = "" if lang == DEFAULT else f'lang="{lang}"'
    return f"from classroom.notebook import course_home\ncourse_home({args})"


def editions_line(lang: str) -> str:
    """Links to the course home of every other edition, each in its own language."""
    from grader.i18n import available

    links = [tr(TEXT["edition"], other, href=home_name(other)) for other in available() if other != lang]
    return "".join(f"\n\n{link}" for link in links)


def write_home(workspace: Path, *, kernel: dict[str, str], lang: str | None = None) -> Path:
    """Write the home notebook with the map drawn now. Replaces the previous one: it holds
    nothing of the learner's. `lang`: the edition (default: the learner's language). Plain
    nbformat 4 JSON, written without the nbformat package, whose import alone takes most of a
    second of `maillab up`'s start."""
    lang = lang or language()

    def cell(cell_id: str, kind: str, source: str, **more: Any) -> dict[str, Any]:
        return {"cell_type": kind, "id": cell_id, "metadata": {}, "source": source, **more}

    notebook = {
        "cells": [
            cell("course-intro", "markdown", tr(TEXT["intro"], lang) + editions_line(lang)),
            cell("course-map", "code", home_cell(lang), execution_count=None, outputs=[{
                "output_type": "display_data", "metadata": {},
                "data": {"text/html": current_home_html(lang=lang), "text/plain": tr(TEXT["map"], lang)}}]),
        ],
        "metadata": {"kernelspec": dict(kernel)},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path = Path(workspace) / home_name(lang)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path
