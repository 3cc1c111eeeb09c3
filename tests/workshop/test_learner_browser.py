"""A learner in a workshop, in a real browser: log in, get JupyterLab, do the whole lab, pass."""
from __future__ import annotations

import re

from classroom.gradebook import Gradebook
from grader import course

from .conftest import LAB, PREFIX, wait_for


def howto_commands(step: str) -> str:
    """The shell commands of a step's how-to in lab 02, as the learner would type them."""
    text = (course.find(LAB).dir / "howto" / f"{step}.md").read_text()
    return "\n".join(re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M))


def run_all_cells(page, tmp_path) -> None:
    """Run > Run All Cells, once the notebook is the current document (the command is disabled before)."""
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.locator("li.lm-MenuBar-item", has_text="Run").first.click()
    item = page.locator("li.lm-Menu-item[data-command='runmenu:run-all']")
    item.wait_for()
    if "lm-mod-disabled" in (item.get_attribute("class") or ""):
        page.keyboard.press("Escape")
        page.wait_for_timeout(1000)
        return run_all_cells(page, tmp_path)
    item.click()
    # The first cell starts the learner's machine and shows the lab's header.
    wait_for(page, ".maillab-lab-header", tmp_path / "first-cell.png", timeout=120)


def test_a_learner_logs_in_and_passes_the_lab_in_the_browser(room, browser_page, tmp_path):
    learner = f"{PREFIX}web"
    page = browser_page
    page.goto(room.url + "hub/login")
    page.fill("#username_input", learner)
    page.fill("#password_input", room.password)
    page.click("#login_submit")
    # The hub makes the system user, starts their server and sends them to the lab's notebook.
    page.wait_for_url(f"**/user/{learner}/lab/**", timeout=180_000)
    wait_for(page, ".jp-Notebook .jp-Cell", tmp_path / "notebook.png", timeout=120)
    wait_for(page, ".jp-Notebook-ExecutionIndicator[data-status='idle']", tmp_path / "kernel.png", timeout=120)

    run_all_cells(page, tmp_path)

    # Run All on the notebook as it ships does nothing for the learner: three Check panels, each FAIL.
    page.wait_for_function("document.querySelectorAll('.maillab-status.maillab-fail').length >= 3",
                           timeout=300_000)
    assert not any(r.passed_now for r in Gradebook(room.gradebook).records(learner=learner))

    # The learner types each step's commands into the cell left for them, and runs everything again.
    cells = page.locator(".jp-CodeCell", has=page.locator(".jp-InputArea", has_text="Your commands for this step"))
    for number, step in enumerate(("install", "start", "local-delivery")):
        cell = cells.nth(number)
        cell.scroll_into_view_if_needed()
        cell.locator(".cm-content").first.click()
        page.keyboard.press("Control+End")
        page.keyboard.insert_text("\n" + howto_commands(step))
    run_all_cells(page, tmp_path)

    # Three Check panels, each showing PASS: the learner did every step in their own machine.
    page.wait_for_function("document.querySelectorAll('.maillab-status.maillab-pass').length >= 3",
                           timeout=300_000)
    page.screenshot(path=str(tmp_path / "passed.png"), full_page=True)
    book = Gradebook(room.gradebook)
    records = {r.step: r for r in book.records(learner=learner)}
    assert set(records) == {"install", "start", "local-delivery"}
    assert all(r.passed_now and r.ever_passed and r.solved == 0 for r in records.values())
    assert book.last_result(learner, LAB, "local-delivery").passed
