"""The right machine, the right files, in a real browser: lab 08 (two machines) beside lab 02.

Skip to here puts a step's commands on the step's machine and says so; each lab machine has a
folder of its own that no other lab re-points, and a save into a machine that was reset or is
stopped is refused with a sentence; a terminal outlives a reset and a stop of its machine."""
from __future__ import annotations

import os
import re
import time

import pytest
from playwright.sync_api import expect

from classroom.session import open_session

from .conftest import learner_environment
from .jupyterlab import Lab

pytestmark = pytest.mark.machine

LEARNER = os.environ.get("MAILLAB_TEST_LEARNER", "browser") + "-machines"
NOTEBOOK08 = "08-backup-mx.ipynb"


@pytest.fixture(scope="module")
def learner_env(tmp_path_factory):
    yield from learner_environment(tmp_path_factory, LEARNER)


@pytest.fixture(scope="module")
def lab02(learner_env):
    session = open_session("install-postfix", LEARNER)
    session.reset()
    yield session
    for machine in session.machines():
        machine.destroy()


@pytest.fixture(scope="module")
def lab08(learner_env, lab02):
    session = open_session("backup-mx", LEARNER)
    session.reset()
    yield session
    session.stop()
    for machine in session.machines():
        machine.destroy()


def output(cell) -> str:
    return cell.locator(".jp-OutputArea").first.inner_text()


def no_internal_names(text: str) -> None:
    assert f"{LEARNER}--" not in text and "--backup-mx--" not in text and "Traceback" not in text


def test_skip_to_here_puts_the_steps_commands_on_its_machine(course, browser, lab08, tmp_path):
    lab = Lab(browser.new_page(), course, tmp_path)
    lab.open(NOTEBOOK08)
    lab.run(lab.cell_with('open_lab("backup-mx"'))
    check = lab.cell_with('lab.check("failover")')
    lab.run(check)
    panel = check.locator(".maillab-check-panel").first
    lab.page.wait_for_function("p => !p.querySelector('button.maillab-check').disabled", arg=panel.element_handle())
    panel.locator("button.maillab-skip").click()
    panel.locator(".maillab-confirm-row button", has_text="Yes, skip").click()
    lab.page.wait_for_function("p => p.textContent.includes('Now on mail2')", arg=panel.element_handle(),
                               timeout=240_000)
    lab.shot("skip-now-on-mail2")
    # The step's lesson: mail1 goes down; the queue is looked at on mail2, where the mail waits.
    learner = lab.learner_cell(2)
    lab.type_into(learner, 'lab.node("mail1", "stop")')
    lab.run(learner)
    queue = lab.cell_with("postqueue -p | grep -q")
    lab.run(queue)
    shown = output(queue)
    assert "not running" not in shown and "stopped" not in shown and "Mail queue is empty" in shown
    no_internal_names(shown)
    # A cell of step 1 goes back to mail1, which is down in this step: said with its lab name.
    look = lab.cell_with("hostname --fqdn; postconf mydestination")
    lab.run(look)
    shown = output(look)
    assert "Now on mail1" in shown and 'lab.node("mail1", "start")' in shown
    no_internal_names(shown)
    lab.run(queue)
    assert "Now on mail2" in output(queue)
    lab.shot("cells-follow-their-step")


def edit_and_save(page, line: str) -> None:
    editor = page.locator(".jp-FileEditor:not(.lm-mod-hidden) .cm-content").first
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(f"\n{line}\n")
    page.keyboard.press("Control+s")


def landed(page, session, name: str, line: str) -> None:
    """Wait until the saved line is in the machine's main.cf; a dialog meanwhile fails the test."""
    deadline = time.monotonic() + 30
    while line not in main_cf(session, name):
        dialog = page.locator(".jp-Dialog")
        assert not dialog.count(), dialog.first.inner_text()
        assert time.monotonic() < deadline, f"{line!r} never reached {name}"
        page.wait_for_timeout(200)


def refused(page, sentence: str, lab: Lab | None = None, shot: str = "") -> str:
    """Answer JupyterLab's "File Changed" question with Overwrite, if it asks; returns the error dialog."""
    dialog = page.locator(".jp-Dialog").first
    dialog.wait_for()
    overwrite = dialog.locator(".jp-Dialog-button", has_text="Overwrite")
    if overwrite.count():
        overwrite.click()
        page.wait_for_function("t => [...document.querySelectorAll('.jp-Dialog')].some(d => d.textContent.includes(t))",
                               arg=sentence)
    text = page.locator(".jp-Dialog", has_text=sentence).first.inner_text()
    if lab is not None:
        lab.shot(shot)
    page.locator(".jp-Dialog .jp-Dialog-button").last.click()
    return text


def main_cf(session, name: str) -> str:
    return session.machine(name).exec(["cat", "/etc/postfix/main.cf"]).out


def test_each_machine_has_its_own_folder_and_a_save_never_lands_elsewhere(course, browser, lab08, lab02, tmp_path):
    lab08.start()
    page = browser.new_page()
    lab = Lab(page, course, tmp_path)
    lab.open(NOTEBOOK08)
    lab.run(lab.cell_with('open_lab("backup-mx"'))
    page.goto(course.url("lab/tree/machines/backup-mx/mail1/etc/postfix/main.cf?reset"))
    page.locator(".lm-TabBar-tab.lm-mod-current", has_text="main.cf").wait_for()
    # Another lab starts (its first cell run in another tab): mail1's folder stays mail1's.
    other = Lab(browser.new_page(), course, tmp_path)
    other.open("02-install-postfix.ipynb")
    other.run(other.cell_with('open_lab("install-postfix"'))
    other.page.close()
    names = {c["name"] for c in course.api("api/contents/machines")["content"]}
    assert {"backup-mx", "install-postfix"} <= names
    edit_and_save(page, "# saved from the mail1 folder")
    landed(page, lab08, "mail1", "# saved from the mail1 folder")
    assert "# saved from the mail1 folder" not in main_cf(lab02, None)
    lab.shot("mail1-main-cf-saved")

    lab08.reset()  # as Reset this step would: a new mail1
    edit_and_save(page, "# after the reset")
    said = refused(page, "was reset after you opened /etc/postfix/main.cf", lab, "save-after-reset-refused")
    assert "mail1 (backup-mx)" in said and "Traceback" not in said
    assert "# after the reset" not in main_cf(lab08, "mail1")

    lab08.stop()  # as `maillab down` would
    page.keyboard.press("Control+s")
    said = refused(page, "is not running", lab, "save-into-a-stopped-machine-refused")
    assert "mail1 (backup-mx) is not running" in said and "nothing was written" in said
    lab08.start()
    assert "# after the reset" not in main_cf(lab08, "mail1")


def test_a_terminal_outlives_a_reset_and_a_stop_of_its_machine(course, browser, lab08, tmp_path):
    lab08.start()  # the lab started last: where a new terminal goes
    page = browser.new_page()
    lab = Lab(page, course, tmp_path)
    page.goto(course.url("lab?reset"))
    page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    page.locator(".lm-Menu-itemLabel", has_text="New").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text="Terminal").first.click()
    screen = page.locator(".jp-Terminal:not(.lm-mod-hidden) .xterm-accessibility").first
    page.wait_for_function("s => s.textContent.includes('Which one do you want a shell on?')",
                           arg=screen.element_handle(), timeout=30_000)
    page.locator(".jp-Terminal:not(.lm-mod-hidden) .xterm").first.click()
    page.keyboard.type("mail2\n")
    page.wait_for_function("s => /root@mail2:/.test(s.textContent)", arg=screen.element_handle(), timeout=30_000)
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current").first
    expect(tab).to_contain_text("mail2")
    page.keyboard.type("echo before-$((40+2))\n")
    page.wait_for_function("s => s.textContent.includes('before-42')", arg=screen.element_handle())

    lab08.reset()
    page.wait_for_function("s => s.textContent.includes('mail2 was reset')", arg=screen.element_handle(),
                           timeout=60_000)
    assert "before-42" in screen.text_content()  # the scrollback stays
    expect(tab).to_contain_text(re.compile("mail2"))
    lab.shot("terminal-after-reset")
    page.keyboard.press("Enter")
    page.keyboard.type("echo after-$((40+3))\n")
    page.wait_for_function("s => s.textContent.includes('after-43')", arg=screen.element_handle(), timeout=30_000)

    lab08.stop()
    page.wait_for_function("s => s.textContent.includes('mail2 was stopped')", arg=screen.element_handle(),
                           timeout=60_000)
    lab.shot("terminal-after-stop")
    lab08.start()
    page.keyboard.press("Enter")
    page.keyboard.type("echo back-$((40+4))\n")
    page.wait_for_function("s => s.textContent.includes('back-44')", arg=screen.element_handle(), timeout=30_000)
    expect(tab).to_contain_text("mail2")


def test_the_file_browsers_refusals_speak_the_learners_language(lab08, learner_env, tmp_path):
    """`maillab up --lang zh`: the sentence of a refused save is Chinese (JupyterLab shows it as is)."""
    import json
    import urllib.error
    import urllib.request

    from .jupyterlab import start_server

    lab08.start()
    server = start_server(tmp_path / "workspace-zh", learner_env, args=("--lang", "zh"))
    try:
        lab08.stop()
        body = json.dumps({"type": "file", "format": "text", "content": "x\n"}).encode()
        request = urllib.request.Request(server.url("api/contents/machines/backup-mx/mail1/etc/hostname"),
                                         data=body, method="PUT", headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        message = json.load(refused.value)["message"]
        assert refused.value.code == 409 and "没有在运行" in message and "mail1 (backup-mx)" in message
    finally:
        server.stop()
        lab08.start()
        from classroom.session import save_language
        save_language("en", LEARNER)  # `--lang zh` was kept with the learner: the other tests speak English
