"""The instructors' dashboard in a real browser (Debian's Chromium, driven by Playwright)."""
from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import INSTRUCTOR, LAB, PREFIX

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser_page(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (`./maillab test` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=str(CHROMIUM),
                                                       headless=True, args=ARGS)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def wait_for(page, selector: str, shot: Path) -> None:
    """Wait for selector; on failure say what the page showed instead."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_selector(selector, timeout=30_000)
    except PlaywrightTimeout:
        page.screenshot(path=str(shot), full_page=True)
        pytest.fail(f"{selector} did not appear at {page.url}; the page showed: {page.inner_text('body')[:1500]}")


def test_a_pass_turns_the_cell_to_pass_without_reload(room, browser_page, tmp_path):
    """An instructor watches the grid; a learner does the install step and checks: the cell turns PASS."""
    learner = f"{PREFIX}pass"
    room.hub.create_users([learner])
    room.hub.start_server(learner)
    kernel = room.kernel(learner)
    out, error = kernel.run(f"from grader.notebook import open_lab\nlab = open_lab({LAB!r})")
    assert error == "", error

    page = browser_page
    page.goto(room.url + "hub/login")
    page.fill("#username_input", INSTRUCTOR)
    page.fill("#password_input", room.instructor_password)
    page.click("#login_submit")
    page.wait_for_url("**/hub/**")
    page.goto(room.url + "services/dashboard/")
    cell = f'tr[data-learner="{learner}"] td[data-step="{LAB}:install"]'
    wait_for(page, f'{cell}[data-state="none"]', tmp_path / "before.png")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    # the learner does the step's work themselves, in their machine, then checks
    out, error = kernel.run(
        "import shlex\n"
        "script = (lab.session.lab.dir / 'solve' / 'install.sh').read_text()\n"
        "get_ipython().system('bash -c ' + shlex.quote(script))\n"
        "print(lab.session.check('install').status.value)", timeout=300)
    assert error == "" and out.strip().endswith("PASS"), out + error

    wait_for(page, f'{cell}[data-state="pass"]', tmp_path / "after.png")
    assert page.evaluate("window.__sameDocument === true")
    text = page.inner_text(cell)
    assert "PASS" in text and "\u2714" in text
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
