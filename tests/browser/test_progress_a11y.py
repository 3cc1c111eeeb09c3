"""Progress that tells the truth, and panels a screen reader can use, in a real JupyterLab: the
header, the panels and the course map follow the gradebook live; a re-check says when it ran; Skip
needs no check; Check keeps the keyboard focus, is named by its step, and results are announced.

The target for everything MailLab draws in the notebook is WCAG 2.1 AA (docs/ACCESSIBILITY.md)."""
from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from classroom.session import open_session

from .conftest import learner_environment, tracebacks
from .jupyterlab import Lab, start_server
from .test_learner_flow import INSTALL

pytestmark = pytest.mark.machine

# Runs side by side use their own learner (and so their own machines).
LEARNER = os.environ.get("MAILLAB_TEST_LEARNER", "browser") + "-progress"
CHECK_INSTALL = 'lab.check("install")'


@pytest.fixture(scope="module")
def progress_env(tmp_path_factory):
    yield from learner_environment(tmp_path_factory, LEARNER)


@pytest.fixture(scope="module")
def progress_lab02(progress_env):
    session = open_session("install-postfix", LEARNER)
    session.reset()
    yield session
    for machine in session.machines():
        machine.destroy()


@pytest.fixture(scope="module")
def progress_course(progress_lab02, progress_env, tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("course-progress") / "workspace", progress_env)
    yield server
    ours = [t for t in tracebacks(server.stop()) if any(p in t for p in ("/grader/", "/sandbox/", "/labs/"))]
    assert not ours, "\n\n".join(ours)


def kinds(session, step: str) -> list[str]:
    """What the gradebook holds for a step since the test began (the fixture's fresh start aside)."""
    found = [a["kind"] for a in session.gradebook.attempts(session.learner, session.lab.id) if a["step"] == step]
    return found[1:] if found[:1] == ["reset"] else found


def idle(page, panel) -> None:
    """Wait until the panel's action has finished (its Check button shows no spinner)."""
    page.wait_for_function("p => !p.querySelector('button.maillab-check .fa-spinner')",
                           arg=panel.element_handle(), timeout=180_000)


def test_progress_follows_the_gradebook_and_panels_speak_to_screen_readers(progress_course, browser,
                                                                          progress_lab02, tmp_path):
    session = progress_lab02
    lab = Lab(browser.new_page(), progress_course, tmp_path)
    page = lab.page

    # The course map, its cell run once: from then on it follows the gradebook by itself.
    lab.open("00-course-home.ipynb")
    lab.run(lab.cell(1))
    home_map = page.locator(".maillab-home-view").first
    expect(home_map).to_contain_text("Install Postfix")

    home_map.locator("a", has_text="Install Postfix").first.click()  # a tab of its own; the map stays open
    page.locator(".lm-TabBar-tab.lm-mod-current", has_text="02-install-postfix.ipynb").wait_for()
    lab.wait_idle()
    lab.run(lab.cell_with("open_lab("))
    header = lab.cell_with("open_lab(").locator(".jp-OutputArea").first
    expect(header).to_contain_text("0 of 3 steps passed")

    # The learner does the install step and runs its check cell: PASS, with the time it ran.
    lab.type_into(lab.learner_cell(0), INSTALL)
    lab.run(lab.learner_cell(0), timeout=180_000)
    lab.run(lab.cell_with(CHECK_INSTALL), timeout=180_000)
    panel = lab.cell_with(CHECK_INSTALL).locator(".maillab-check-panel").first
    expect(panel).to_contain_text("PASS")
    expect(panel.locator(".maillab-state-line")).to_contain_text("Passed on your own")
    expect(header).to_contain_text("1 of 3 steps passed")
    expect(header).to_contain_text(re.compile(r"Install Postfix as an Internet Site \(passed, \d\d:\d\d:\d\d\)"))
    first_time = panel.locator(".maillab-checked-at").inner_text()
    assert re.search(r"Checked at \d\d:\d\d:\d\d \(\d+\.\d s\)", first_time), first_time
    lab.shot("passed")

    # Accessibility tree: the panel is a group named after its step, its buttons are named by step.
    group = page.get_by_role("group", name="Check of the step \u201cInstall Postfix as an Internet Site\u201d")
    expect(group).to_have_count(1)
    check = group.get_by_role("button", name="Check \u201cInstall Postfix as an Internet Site\u201d")
    expect(check).to_have_count(1)
    expect(group.get_by_role("button", name="Reset the step \u201cInstall Postfix as an Internet Site\u201d")).to_have_count(1)
    status = group.get_by_role("status").filter(has_text="PASS")
    expect(status).to_have_count(1)
    assert status.get_attribute("aria-live") == "polite"
    snapshot = panel.aria_snapshot()
    assert 'group "Check of the step' in snapshot and 'button "Check' in snapshot, snapshot

    # A re-check from the keyboard: focus stays on the button, and the panel says when it ran.
    page.wait_for_timeout(1100)  # a new second, so the time differs
    check.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("([p, before]) => p.querySelector('.maillab-checked-at')"
                           " && p.querySelector('.maillab-checked-at').textContent !== before",
                           arg=[panel.element_handle(), first_time], timeout=60_000)
    idle(page, panel)
    assert page.evaluate("() => document.activeElement && document.activeElement.classList.contains('maillab-check')")
    assert kinds(session, "install") == ["check", "check"]

    # Skip to here from the last step's start: no check of the skipped step is made or recorded.
    skip_cell = lab.cell_with('lab.how("local-delivery")')
    lab.run(skip_cell)
    skip_cell.get_by_role("button", name="Skip to here").click()
    skip_cell.get_by_role("button", name="Yes, skip").click()
    expect(skip_cell).to_contain_text("Reference solution used", timeout=300_000)
    assert kinds(session, "start") == ["skip"]  # no FAIL, no hint: only the skip
    assert kinds(session, "install") == ["check", "check"]  # passed by hand: stays the learner's
    # The header, and the install panel, say so at once, each with its time.
    expect(header).to_contain_text("1 of 3 steps passed")
    expect(header).to_contain_text(re.compile(r"Install Postfix as an Internet Site \(passed, \d\d:\d\d:\d\d\)"))
    expect(header).to_contain_text(re.compile(r"Start Postfix and find its log \(skipped, \d\d:\d\d:\d\d\)"))
    expect(panel.locator(".maillab-state-line")).to_contain_text("Passed on your own")
    lab.shot("skipped")

    # The course map, in its own tab, followed without its cell being run again.
    page.locator(".lm-TabBar-tab", has_text="00-course-home.ipynb").first.click()
    expect(page.locator(".maillab-home-view").first).to_contain_text("1 of 3 steps passed (1 skipped)",
                                                                     timeout=20_000)
    lab.shot("home-follows")

    # A reset from a cell shows in the install panel too (one source, every panel).
    page.locator(".lm-TabBar-tab", has_text="02-install-postfix.ipynb").first.click()
    last = lab.notebook.locator(".jp-CodeCell").last
    last.scroll_into_view_if_needed()
    last.locator(".jp-InputPrompt").first.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # a new cell below, as a learner would add one
    reset_cell = lab.notebook.locator(".jp-CodeCell").last
    lab.type_into(reset_cell, 'lab.reset("install")')
    lab.run(reset_cell, timeout=300_000)
    expect(panel.locator(".maillab-state-line")).to_contain_text("Reset to its start", timeout=60_000)
    expect(panel).to_contain_text("Not checked yet")
    expect(header).to_contain_text("0 of 3 steps passed")

    # From the keyboard, Reset this step asks first; once confirmed and done, the focus is back on
    # the Reset button (the confirmation row is gone, the page did not take the focus).
    reset = group.get_by_role("button", name="Reset the step \u201cInstall Postfix as an Internet Site\u201d")
    reset.focus()
    page.keyboard.press("Enter")
    yes = panel.get_by_role("button", name="Yes, reset")
    expect(yes).to_be_visible()
    expect(panel.get_by_role("alert")).to_contain_text("Everything you changed on it since then is lost")
    yes.focus()
    page.keyboard.press("Enter")
    expect(panel).to_contain_text("your machine is back", timeout=120_000)
    idle(page, panel)
    page.wait_for_function("() => document.activeElement && document.activeElement.classList.contains('maillab-reset-step')",
                           timeout=10_000)
