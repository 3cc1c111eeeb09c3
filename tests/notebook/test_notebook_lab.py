"""open_lab() and NotebookLab with a stand-in session: what the lab notebook's cells do."""
from __future__ import annotations

import sys
from types import ModuleType

import pytest

from grader.errors import MailLabError
from classroom.notebook import LabNotReady, NotebookLab, open_lab, shell
from grader.result import Status
from notebook_fakes import FakeMachine, FakeSession, step_result


@pytest.fixture
def session(tmp_path):
    root = tmp_path / "machine-root"
    (root / "etc" / "postfix").mkdir(parents=True)
    return FakeSession(machine=FakeMachine(root=root))


def test_start_attaches_the_machine_links_its_files_and_shows_progress(session, tmp_path):
    lab = NotebookLab(session, workspace=tmp_path)
    lab.start()
    assert shell.attached_machine() is session.machine() and lab.machine is session.machine()
    assert (tmp_path / "machine" / "etc" / "postfix").is_dir()
    assert "is running" in lab.status.value and "<code>machine</code> folder" in lab.status.value
    assert "0 of 2 steps passed" in lab.progress_text.value
    assert "\u25cb</span> Install Postfix (to do)" in lab.progress_text.value  # icon and words


def test_a_machine_that_cannot_start_is_one_sentence(session):
    session.start_error = MailLabError("The lab image is missing: run `maillab build`.")
    lab = NotebookLab(session)
    with pytest.raises(LabNotReady) as raised:
        lab.start()
    assert raised.value._render_traceback_() == ["The lab image is missing: run `maillab build`."]
    assert "The lab image is missing" in lab.status.value
    assert shell.attached_machine() is None


def test_check_shows_a_panel_with_the_result_and_updates_progress(session, monkeypatch):
    shown = []
    monkeypatch.setattr("classroom.notebook.notebook_lab.display", shown.append)
    lab = NotebookLab(session)
    lab.start()
    assert lab.check("install") is None  # the panel draws the result; nothing is drawn twice
    (panel,) = shown
    assert "<strong>PASS</strong>" in panel.result_area.value
    assert lab.progress_bar.value == 1 and "1 of 2 steps passed" in lab.progress_text.value
    assert "\u2714</span> Install Postfix (passed)" in lab.progress_text.value


def test_panel_does_not_run_a_check(session):
    session.last = step_result(Status.FAIL)
    panel = NotebookLab(session).panel("install")
    assert session.check_calls == 0 and "<strong>FAIL</strong>" in panel.result_area.value


def test_solve_says_visibly_that_the_solution_was_used(session, monkeypatch):
    shown = []
    monkeypatch.setattr("classroom.notebook.notebook_lab.display", shown.append)
    NotebookLab(session).solve("deliver")
    assert session.solved == ["deliver"]
    note = shown[0].data
    assert "Reference solution used" in note
    assert "\u201cInstall Postfix\u201d" in note and "\u201cDeliver a message\u201d" in note


def test_reset_reattaches_the_machine(session, monkeypatch):
    shown = []
    monkeypatch.setattr("classroom.notebook.notebook_lab.display", shown.append)
    lab = NotebookLab(session)
    lab.reset("install")
    assert session.resets == ["install"] and shell.attached_machine() is session.machine()
    assert "back to how it was at the start of step \u201cInstall Postfix\u201d" in shown[0].data


def test_open_lab_starts_the_session_it_opens(session, tmp_path, monkeypatch):
    fake_module = ModuleType("classroom.session")
    fake_module.open_session = lambda lab_id, learner=None: session
    monkeypatch.setitem(sys.modules, "classroom.session", fake_module)
    monkeypatch.setenv("MAILLAB_WORKSPACE", str(tmp_path))
    monkeypatch.setattr("classroom.notebook.notebook_lab.display", lambda *_: None)
    lab = open_lab("install-postfix")
    assert session.start_calls == 1 and lab.workspace == tmp_path
    assert (tmp_path / "machine").is_symlink()


def test_open_lab_with_an_unknown_lab_is_one_sentence(monkeypatch):
    def unknown(lab_id, learner=None):
        raise MailLabError(f"There is no lab {lab_id}.")

    fake_module = ModuleType("classroom.session")
    fake_module.open_session = unknown
    monkeypatch.setitem(sys.modules, "classroom.session", fake_module)
    with pytest.raises(LabNotReady, match="There is no lab nope."):
        open_lab("nope")


def test_the_panel_resets_its_step_after_a_confirmation(session):
    lab = NotebookLab(session)
    lab.start()
    panel = lab.panel("deliver")
    panel.reset_button.click()
    assert session.resets == [] and panel.confirm_row.layout.display == "flex"
    assert "Everything you changed on it since then is lost" in panel.confirm_text.value
    panel.confirm_yes.click()
    assert panel.pending.result(timeout=10) is True
    assert session.resets == ["deliver"] and panel.confirm_row.layout.display == "none"
    assert "back to how it was at the start of step \u201cDeliver a message\u201d" in panel.result_area.value
    assert "Not checked yet" in panel.result_area.value
    assert shell.attached_machine() is session.machine()


def test_cancel_changes_nothing(session):
    panel = NotebookLab(session).panel("deliver")
    panel.reset_button.click()
    panel.confirm_no.click()
    assert panel.confirm_row.layout.display == "none" and panel.confirm() is None
    assert session.resets == []


def test_skip_to_here_applies_the_earlier_solutions(session):
    lab = NotebookLab(session)
    panel = lab.panel("deliver")
    panel.skip_button.click()
    assert session.solved == []
    panel.confirm_yes.click()
    panel.pending.result(timeout=10)
    assert session.solved == ["install"]  # the steps before this one, not this one
    assert "Reference solution used" in panel.result_area.value
    assert "\u201cInstall Postfix\u201d" in panel.result_area.value


def test_the_first_step_has_nothing_to_skip(session):
    panel = NotebookLab(session).panel("install")
    shown = panel.children[0].children
    assert panel.button in shown and panel.reset_button in shown and panel.skip_button not in shown


def test_a_failed_reset_is_a_sentence_in_the_panel(session):
    def broken(step_id):
        raise MailLabError("The lab image is missing: run `maillab image build`.")
    session.reset = broken
    panel = NotebookLab(session).panel("install")
    panel.ask("reset")
    panel.confirm()
    assert panel.pending.result(timeout=10) is False
    assert "The lab image is missing" in panel.result_area.value and "Traceback" not in panel.result_area.value
    assert not panel.button.disabled and not panel.reset_button.disabled


def test_a_lab_with_several_machines_shows_each_ones_files(tmp_path):
    from types import SimpleNamespace
    roots = {}
    for name in ("mail", "mx2"):
        roots[name] = tmp_path / f"{name}-root"
        (roots[name] / "etc").mkdir(parents=True)
    machines = {name: FakeMachine(root=root, name=name) for name, root in roots.items()}
    session = FakeSession()
    session.lab.machines = [SimpleNamespace(name="mail"), SimpleNamespace(name="mx2")]
    session.machine = lambda name=None: machines[name or "mail"]
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    lab = NotebookLab(session, workspace=workspace)
    lab.start()
    assert (workspace / "machine").resolve() == roots["mail"].resolve()
    assert (workspace / "machine-mx2").resolve() == roots["mx2"].resolve()
    assert "<code>machine-mail</code>, <code>machine-mx2</code>" in lab.status.value
    lab.use_machine("mx2")
    assert (workspace / "machine").resolve() == roots["mx2"].resolve()
    assert shell.attached_machine() is machines["mx2"]
