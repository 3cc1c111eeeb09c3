"""The Check panel with a stand-in session: what a learner sees before, during and after a check."""
from __future__ import annotations

import ipywidgets as widgets

from notebook_fakes import FakeSession, step_result
from grader.errors import MailLabError
from classroom.notebook.panel import CheckPanel
from grader.result import Status
from sandbox.errors import MachineNotRunning


def finish(panel: CheckPanel):
    assert panel.pending is not None
    return panel.pending.result(timeout=10)


def test_a_new_panel_shows_the_last_result():
    session = FakeSession(last=step_result(Status.FAIL))
    panel = CheckPanel(session, "install")
    shown = panel.result_area.value
    assert "Your last check, 2025-01-02" in shown
    assert "\u2718" in shown and "<strong>FAIL</strong>" in shown  # icon and word, not colour alone
    assert "Postfix is installed" in shown
    assert "<code>apt-get install postfix</code>" in shown
    assert "<summary>What the grader saw, check by check</summary>" in shown
    assert session.check_calls == 0


def test_a_new_panel_without_a_result_invites_a_check():
    panel = CheckPanel(FakeSession(), "install")
    assert "Not checked yet" in panel.result_area.value
    assert isinstance(panel.button, widgets.Button) and panel.button.description == "Check"


def test_a_click_runs_the_check_and_shows_its_result(capsys):
    session = FakeSession(outcome=step_result(Status.PASS))
    panel = CheckPanel(session, "install")
    panel.button.click()
    result = finish(panel)
    assert result.status is Status.PASS and session.check_calls == 1
    assert "<strong>PASS</strong>" in panel.result_area.value
    assert "all 2 checks passed" in panel.result_area.value
    assert not panel.button.disabled and panel.activity.value == ""
    assert capsys.readouterr().out == ""  # drawn in the panel, never printed


def test_a_second_click_while_checking_is_ignored():
    session = FakeSession()
    session.gate.clear()  # hold the check open
    panel = CheckPanel(session, "install")
    first = panel.check()
    panel.button.click()
    assert panel.check() is None
    # the button stays enabled (a keyboard user's focus stays on it); the activity line says why
    assert not panel.button.disabled and "Checking" in panel.activity.value
    session.gate.set()
    first.result(timeout=10)
    assert session.check_calls == 1
    assert not panel.button.disabled and not panel.running
    panel.button.click()  # and once done, Check works again
    finish(panel)
    assert session.check_calls == 2


def test_a_maillab_error_is_shown_as_its_sentence():
    session = FakeSession(outcome=MailLabError("The lab install-postfix is not started: run the first cell."))
    panel = CheckPanel(session, "install")
    panel.button.click()
    assert finish(panel) is None
    shown = panel.result_area.value
    assert "The lab install-postfix is not started: run the first cell." in shown
    assert "Traceback" not in shown and not panel.button.disabled


def test_a_sandbox_error_is_shown_as_its_sentence():
    session = FakeSession(outcome=MachineNotRunning("Machine mail is not running."))
    panel = CheckPanel(session, "install")
    panel.button.click()
    finish(panel)
    assert "Machine mail is not running." in panel.result_area.value


def test_an_unexpected_error_is_a_plain_sentence():
    session = FakeSession(outcome=KeyError("items"))
    panel = CheckPanel(session, "install")
    panel.button.click()
    finish(panel)
    shown = panel.result_area.value
    assert "unexpected problem (KeyError: &#x27;items&#x27;)" in shown
    assert "tell your instructor" in shown and "Traceback" not in shown


def test_a_failing_last_result_lookup_is_a_sentence():
    panel = CheckPanel(FakeSession(last=OSError("database is locked")), "install")
    assert "Could not read your last result" in panel.result_area.value


def test_what_the_machine_said_is_never_markup():
    session = FakeSession(outcome=step_result(Status.FAIL, detail="main.cf: <script>alert(1)</script>"))
    panel = CheckPanel(session, "install")
    panel.check()
    finish(panel)
    assert "<script>" not in panel.result_area.value
    assert "&lt;script&gt;" in panel.result_area.value


def test_an_error_result_says_it_is_not_the_learners_fault():
    session = FakeSession(outcome=step_result(Status.ERROR, detail="postconf timed out"))
    panel = CheckPanel(session, "install")
    panel.check()
    finish(panel)
    shown = panel.result_area.value
    assert "<strong>ERROR</strong>" in shown and "not that your work is wrong" in shown


def test_listeners_hear_each_result():
    heard = []
    panel = CheckPanel(FakeSession(), "install")
    panel.on_result(heard.append)
    panel.check()
    finish(panel)
    assert [r.status for r in heard] == [Status.PASS]


def test_a_machine_stopped_behind_the_notebooks_back_is_explained():
    session = FakeSession(outcome=MailLabError("The lab install-postfix is not started: run `maillab lab start install-postfix` first."))
    session.running = False
    panel = CheckPanel(session, "install")
    panel.button.click()
    finish(panel)
    shown = panel.result_area.value
    assert "Your lab machine is not running" in shown and "Run the lab&#x27;s first cell" in shown
    assert "Traceback" not in shown


def test_buttons_carry_words_and_icons():
    panel = CheckPanel(FakeSession(), "install", on_reset=lambda s: "", on_skip=lambda s: "")
    for button in (panel.button, panel.reset_button, panel.skip_button):
        assert button.description and button.icon and button.tooltip


def test_a_disconnected_panel_says_so_in_words():
    from classroom.notebook.panel import TEXT, disconnected_style
    panel = CheckPanel(FakeSession(), "install")
    styles = [c.value for c in panel.children if isinstance(c, widgets.HTML)]
    style = disconnected_style()
    assert style in styles
    assert ".maillab-check-panel.maillab-lang-en.jupyter-widgets-disconnected::before" in style
    assert "maillab-lang-en" in panel._dom_classes
    assert f'content: "{TEXT["disconnected"]}"' in style  # no quote in it needed escaping


def test_each_panel_keeps_its_notebooks_language_when_disconnected():
    """Issue 17 item 12: a Chinese notebook's banner style does not reach an English notebook's panels."""
    from classroom.notebook.panel import disconnected_style
    from grader import i18n

    english = disconnected_style()
    with i18n.speaking("zh"):
        chinese = disconnected_style()
        zh_panel = CheckPanel(FakeSession(), "install")
    assert "maillab-lang-zh" in zh_panel._dom_classes and ".maillab-lang-zh." in chinese
    assert ".maillab-lang-en." in english and ".maillab-lang-en." not in chinese
