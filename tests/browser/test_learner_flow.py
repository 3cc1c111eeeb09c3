"""A learner's first lab, in a real browser against a real `maillab up`: from the course home to
a failed check, the solution, a passed check, a reset, and a terminal on the machine."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .jupyterlab import Lab

pytestmark = pytest.mark.machine

CHECK_INSTALL = 'lab.check("install")'
from .conftest import LEARNER as LEARNER_NAME  # noqa: E402
INSTALL = ("debconf-set-selections <<'END'\npostfix postfix/main_mailer_type select Internet Site\n"
           "postfix postfix/mailname string example.test\nEND\napt-get update\napt-get install -y postfix")


def attempts(session, step: str) -> int:
    return session.progress().get(step, {}).get("attempts", 0)


def wait_for_attempt(lab: Lab, session, step: str, before: int, *, timeout: float = 60_000) -> None:
    """Wait until the gradebook holds a check of `step` made after `before` attempts."""
    waited = 0
    while attempts(session, step) == before and waited < timeout:
        lab.page.wait_for_timeout(50)
        waited += 50
    assert attempts(session, step) > before, "the click did not run a check"


def click_and_wait_for_a_check(lab: Lab, panel, session, step: str, *, timeout: float = 60_000,
                               keyboard: bool = False) -> str:
    """Click the panel's Check button (or press Enter on it); wait until the gradebook has the new
    attempt and the panel shows its result (the button's spinner is gone); returns the panel's text."""
    before = attempts(session, step)
    button = panel.locator("button", has_text="Check")
    if keyboard:
        button.focus()
        lab.page.keyboard.press("Enter")
    else:
        button.click()
    wait_for_attempt(lab, session, step, before, timeout=timeout)
    assert attempts(session, step) == before + 1
    lab.page.wait_for_function(
        "p => !p.querySelector('button.maillab-check .fa-spinner') && /PASS|FAIL|ERROR|Problem/.test(p.textContent)",
        arg=panel.element_handle(), timeout=timeout)
    return panel.inner_text()


def test_a_learner_goes_from_the_home_page_to_a_passed_step_and_back(course, browser, lab02, tmp_path):
    page = browser.new_page()
    lab = Lab(page, course, tmp_path)

    # The course home: the map of the labs, nothing passed yet, where to start.
    lab.open("00-course-home.ipynb")
    home = page.locator(".maillab-home").first
    assert "Install Postfix" in home.inner_text() and "not started" in home.inner_text()
    assert "Continue with lab 01" in home.inner_text()  # the course starts with how mail works
    lab.shot("home")

    # Its link opens the lab's notebook.
    home.locator("a", has_text="Install Postfix").first.click()
    page.locator(".lm-TabBar-tab.lm-mod-current", has_text="02-install-postfix.ipynb").wait_for()
    lab.wait_idle()

    # The first cells start the machine; `!hostname` runs inside it.
    lab.run(lab.cell_with("open_lab("))
    header = lab.cell_with("open_lab(").locator(".jp-OutputArea").first
    assert "is running" in header.inner_text() and "0 of 3 steps passed" in header.inner_text()
    lab.run(lab.cell_with("!hostname"))
    assert "mail.example.test" in lab.cell_with("!hostname").locator(".jp-OutputArea").inner_text()

    # The check cell shows a panel; Check says FAIL, with a hint.
    lab.run(lab.cell_with(CHECK_INSTALL))
    panel = lab.cell_with(CHECK_INSTALL).locator(".maillab-check-panel").first
    shown = click_and_wait_for_a_check(lab, panel, lab02, "install")
    assert "\u2718 FAIL" in shown and "Hint:" in shown and "apt-get install" in shown
    lab.shot("fail-with-hint")

    # "What the grader saw" unfolds from the keyboard.
    summary = panel.locator("summary", has_text="What the grader saw").first
    summary.focus()
    page.keyboard.press("Enter")
    expect(panel.locator("details").first).to_have_attribute("open", "")
    assert "Postfix is installed" in panel.locator("details").first.inner_text()

    # The how-to (guided mode, the default on one's own) shows at once, as text to type; the
    # gradebook notes that it was seen. The learner types its commands into the empty cell, runs it;
    # Check (from the keyboard) says PASS and the progress moves.
    how = lab.cell_with('lab.how("install")')
    lab.run(how)
    # Its text comes after the line about guided mode: under load it may show a moment later.
    expect(how.locator(".jp-OutputArea").first).to_contain_text("debconf-set-selections", timeout=30_000)
    record = next(r for r in lab02.gradebook.records() if (r.learner, r.lab, r.step) == (LEARNER_NAME, "install-postfix",
                                                                                      "install"))
    assert record.guided, "showing the how-to is in the gradebook"
    lab.type_into(lab.learner_cell(0), INSTALL)
    lab.run(lab.learner_cell(0), timeout=180_000)
    shown = click_and_wait_for_a_check(lab, panel, lab02, "install", keyboard=True)
    assert "\u2714 PASS" in shown and "FAIL" not in shown
    page.wait_for_function("h => h.textContent.includes('1 of 3 steps passed')", arg=header.element_handle())
    lab.shot("pass")

    # Reset this step: a confirmation, then the machine is back at the step's start and Check fails again.
    panel.locator("button", has_text="Reset this step").click()
    confirm = panel.locator(".maillab-confirm-row")
    expect(confirm).to_contain_text("Everything you changed on it since then is lost")
    lab.shot("reset-confirmation")
    confirm.locator("button", has_text="Yes, reset").click()
    page.wait_for_function("p => p.textContent.includes('your machine is back')", arg=panel.element_handle(),
                           timeout=60_000)
    shown = click_and_wait_for_a_check(lab, panel, lab02, "install")
    assert "\u2718 FAIL" in shown and "Postfix is installed" in shown
    lab.shot("fail-after-reset")

    # A terminal is a root shell on the machine, its name in the prompt.
    page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    page.locator(".lm-Menu-itemLabel", has_text="New").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text="Terminal").first.click()
    screen = page.locator(".jp-Terminal:not(.lm-mod-hidden) .xterm-accessibility").first
    page.wait_for_function("s => /root@mail:/.test(s.textContent)", arg=screen.element_handle(), timeout=30_000)
    page.locator(".jp-Terminal:not(.lm-mod-hidden) .xterm").first.click()
    page.keyboard.type("hostname --fqdn; id -un\n")
    page.wait_for_function("s => s.textContent.includes('mail.example.test')", arg=screen.element_handle())
    assert "root" in screen.inner_text()
    lab.shot("terminal")


def edit_and_save(lab: Lab, line: str) -> None:
    """Append a line in the editor that is open now, and save it with Ctrl+S."""
    editor = lab.page.locator(".jp-FileEditor:not(.lm-mod-hidden) .cm-content").first
    editor.click()
    lab.page.keyboard.press("Control+End")
    lab.page.keyboard.type(f"\n{line}\n")
    lab.page.keyboard.press("Control+s")
    lab.page.locator(".lm-TabBar-tab.lm-mod-current:not(.jp-mod-dirty)").first.wait_for()


def test_main_cf_and_aliases_open_and_save_from_the_file_browser(course, browser, lab02, tmp_path):
    lab02.reset("start")  # Postfix installed (a cached starting state): main.cf and /etc/aliases exist
    page = browser.new_page()
    lab = Lab(page, course, tmp_path)
    lab.open("00-course-home.ipynb")
    listing = page.locator(".jp-DirListing-content")
    for name in ("machines", "install-postfix", "mail", "etc", "postfix", "main.cf"):
        listing.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$")).first.dblclick()
    page.locator(".lm-TabBar-tab.lm-mod-current", has_text="main.cf").wait_for()
    expect(page.locator(".jp-FileEditor:not(.lm-mod-hidden) .cm-content").first).to_contain_text("myhostname")
    edit_and_save(lab, "# edited in JupyterLab")
    lab.shot("main-cf")
    page.goto(course.url("lab/tree/machines/install-postfix/mail/etc/aliases?reset"))
    page.locator(".lm-TabBar-tab.lm-mod-current", has_text="aliases").wait_for()
    expect(page.locator(".jp-FileEditor:not(.lm-mod-hidden) .cm-content").first).to_contain_text("postmaster")
    edit_and_save(lab, "sales: root")

    machine = lab02.machine()
    assert machine.exec(["tail", "-n", "1", "/etc/postfix/main.cf"]).out.strip() == "# edited in JupyterLab"
    assert machine.exec(["tail", "-n", "1", "/etc/aliases"]).out.strip() == "sales: root"
    # JupyterLab's checkpoints stay out of the machine.
    assert machine.exec(["find", "/etc", "-name", ".ipynb_checkpoints"]).out == ""


def test_the_mail_flow_picture_of_the_learners_message(course, browser, lab02, tmp_path):
    lab02.reset("local-delivery")  # Postfix installed and running
    lab = Lab(browser.new_page(), course, tmp_path)
    lab.open("02-install-postfix.ipynb")
    lab.run(lab.cell_with("open_lab("))
    lab.type_into(lab.learner_cell(2), "printf 'Subject: Hello\\n\\nHello root.\\n' | sendmail root")
    lab.run(lab.learner_cell(2))
    lab.run(lab.cell_with("!tail -n 6 /var/log/mail.log"))  # by then the message is delivered
    cell = lab.cell_with("lab.mailflow()")
    lab.run(cell)
    picture = cell.locator("svg.maillab-mailflow").first
    expect(picture).to_be_visible()
    words = " ".join(picture.locator("text").all_text_contents())
    for hop in ("sendmail", "pickup", "cleanup", "qmgr", "local", "mailbox", "delivered"):
        assert hop in words, hop
    expect(picture.locator("title").first).to_have_text(re.compile(r"^The journey of message <.+>$"))
    cell.scroll_into_view_if_needed()
    lab.shot("mail-flow")
