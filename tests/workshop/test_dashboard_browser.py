"""The instructors' dashboard in a real browser (Debian's Chromium, driven by Playwright)."""
from __future__ import annotations

import re

from .conftest import INSTRUCTOR, LAB, PREFIX, wait_for


def test_a_pass_turns_the_cell_to_pass_without_reload(room, browser_page, tmp_path):
    """An instructor watches the grid; a learner does the install step and checks: the cell turns PASS."""
    learner = f"{PREFIX}pass"
    room.hub.create_users([learner])
    room.hub.start_server(learner)
    kernel = room.kernel(learner)
    out, error = kernel.run(f"from classroom.notebook import open_lab\nlab = open_lab({LAB!r})")
    assert error == "", error

    page = browser_page
    page.goto(room.url + "hub/login")
    page.fill("#username_input", INSTRUCTOR)
    page.fill("#password_input", room.instructor_password)
    page.click("#login_submit")
    page.wait_for_url(re.compile(r".*/(hub|user)/"))  # the hub's page, or the instructor's own server
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
