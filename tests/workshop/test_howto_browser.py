"""A workshop learner in challenge mode opens a step's how-to in a real browser: the gradebook notes
it, the instructor's live dashboard marks the step as passed with help, and the export of the
learner's own work (`--score own`) does not count it."""
from __future__ import annotations

import csv
import io
import re

from classroom.gradebook import Gradebook

from .conftest import INSTRUCTOR, LAB, PREFIX, wait_for
from .test_learner_browser import run_all_cells


def test_show_me_how_is_marked_on_the_dashboard_and_not_scored_as_own_work(room, browser_page, tmp_path):
    learner = f"{PREFIX}how"
    page = browser_page
    page.goto(room.url + "hub/login")
    page.fill("#username_input", learner)
    page.fill("#password_input", room.password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{learner}/lab/**", timeout=180_000)
    wait_for(page, ".jp-Notebook .jp-Cell", tmp_path / "notebook.png", timeout=120)
    wait_for(page, ".jp-Notebook-ExecutionIndicator[data-status='idle']", tmp_path / "kernel.png", timeout=120)
    run_all_cells(page, tmp_path)
    page.wait_for_function("document.querySelectorAll('.maillab-status.maillab-fail').length >= 3",
                           timeout=300_000)

    # Challenge mode (the workshop's default): each how-to is closed, behind "Show me how".
    howtos = page.locator(".maillab-howto")
    assert howtos.count() == 3
    assert "How to do it" not in page.inner_text(".jp-Notebook")
    button = howtos.first.get_by_role("button", name="Show me how")
    button.scroll_into_view_if_needed()
    button.click()
    howtos.first.get_by_text("How to do it").wait_for(timeout=60_000)
    shown = howtos.first.inner_text()
    assert "apt-get install -y postfix" in shown

    # The learner reads the how-to and types its commands into the step's cell, runs it, then checks.
    code = "\n".join(howtos.first.locator("pre").all_inner_texts())
    assert "debconf-set-selections" in code
    cell = page.locator(".jp-CodeCell", has=page.locator(".jp-InputArea", has_text="Your commands for this step")).first
    cell.scroll_into_view_if_needed()
    cell.locator(".cm-content").first.click()
    page.keyboard.press("Control+End")
    page.keyboard.insert_text("\n" + code.strip() + "\n")
    page.keyboard.press("Shift+Enter")
    check = page.get_by_role("button", name=re.compile("Check")).first
    check.scroll_into_view_if_needed()
    check.click()
    page.wait_for_function("document.querySelectorAll('.maillab-status.maillab-pass').length >= 1",
                           timeout=600_000)
    page.screenshot(path=str(tmp_path / "learner.png"), full_page=True)

    # The instructor's dashboard, in the same browser after the learner logged out.
    page.goto(room.url + "hub/logout")
    page.context.clear_cookies()
    page.goto(room.url + "hub/login")
    page.fill("#username_input", INSTRUCTOR)
    page.fill("#password_input", room.instructor_password)
    page.click("#login_submit")
    page.wait_for_url(re.compile(r".*/(hub|user)/"))  # the hub's page, or the instructor's own server
    page.goto(room.url + "services/dashboard/")
    cell = f'tr[data-learner="{learner}"] td[data-step="{LAB}:install"]'
    wait_for(page, f'{cell}[data-state="helped"]', tmp_path / "dashboard.png")
    text = page.inner_text(cell)
    assert "passed with help" in text and "how-to shown 1x" in text, text
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    # The CSV: every pass scores with --score ever; --score own leaves out the step passed with help.
    def scores(*args: str) -> dict[str, str]:
        done = room.maillab("gradebook", "export", "--csv", "--lab", LAB, *args)
        assert done.returncode == 0, done.stderr
        return next(r for r in csv.DictReader(io.StringIO(done.stdout)) if r["learner"] == learner)

    ever, own = scores("--score", "ever"), scores("--score", "own")
    assert int(ever[f"{LAB}: install"]) > 0
    assert own[f"{LAB}: install"] == "0" and own[f"{LAB} total"] == "0"
    # The long export has the how-to as a row of its own, with its mode.
    long = room.maillab("gradebook", "export", "--csv", "--long", "--lab", LAB)
    assert long.returncode == 0, long.stderr
    rows = [r for r in csv.DictReader(io.StringIO(long.stdout)) if r["learner"] == learner]
    assert [(r["step"], r["mode"]) for r in rows if r["kind"] == "guidance"] == [("install", "challenge")]


def test_skip_to_here_in_a_workshop_needs_no_check_and_is_noted_as_a_skip(room):
    """Through the grader service: Skip to here records a skip for each earlier step, and no check."""
    learner = f"{PREFIX}skip"
    room.hub.create_users([learner])
    room.hub.start_server(learner)
    kernel = room.kernel(learner)
    out, error = kernel.run(f"from classroom.notebook import open_lab\nlab = open_lab({LAB!r})\n"
                            "print(lab.skip_to('local-delivery'))\n"
                            "print(sorted((k, v['state']) for k, v in lab.session.progress().items()))", timeout=600)
    assert error == "", error
    assert "without any check" in out
    assert "('install', 'skipped'), ('start', 'skipped')" in out
    book = Gradebook(room.gradebook)
    kinds = [(a["step"], a["kind"]) for a in book.attempts(learner, LAB)]
    assert kinds == [("install", "skip"), ("start", "skip")]
