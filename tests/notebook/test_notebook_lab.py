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
    assert (tmp_path / "machines" / "install-postfix" / "mail" / "etc" / "postfix").is_dir()
    assert "is running" in lab.status.value
    assert "<code>machines/install-postfix/mail</code> folder" in lab.status.value
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
    assert (tmp_path / "machines" / "install-postfix" / "mail").is_symlink()


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
    folder = workspace / "machines" / "install-postfix"
    assert (folder / "mail").resolve() == roots["mail"].resolve()
    assert (folder / "mx2").resolve() == roots["mx2"].resolve()
    assert ("<code>machines/install-postfix/mail</code>, <code>machines/install-postfix/mx2</code>"
            in lab.status.value)
    lab.use_machine("mx2")
    # Each folder keeps showing its own machine: nothing is re-pointed.
    assert (folder / "mail").resolve() == roots["mail"].resolve()
    assert shell.attached_machine() is machines["mx2"]
    assert not (workspace / "machine").exists()


def _two_machine_session(tmp_path, *, network=None):
    from types import SimpleNamespace
    machines = {name: FakeMachine(root=tmp_path, name=f"hmachines--backup-mx--{name}") for name in ("mail1", "mail2")}
    session = FakeSession()
    session.lab.id = "backup-mx"
    session.lab.network = network
    session.lab.machines = [SimpleNamespace(name="mail1"), SimpleNamespace(name="mail2")]
    session.lab.steps = [SimpleNamespace(id="primary", title="Primary", machine="mail1"),
                         SimpleNamespace(id="backup-relay", title="Backup relay", machine="mail2"),
                         SimpleNamespace(id="failover", title="Failover", machine="mail2")]
    session.machine = lambda name=None: machines[name or "mail1"]
    return session, machines


def test_skip_to_here_puts_the_commands_on_the_steps_machine_and_says_so(tmp_path):
    session, machines = _two_machine_session(tmp_path)
    lab = NotebookLab(session)
    lab.start()
    assert shell.attached_machine() is machines["mail1"]
    note = lab.skip_to("failover")
    assert session.solved == ["backup-relay"]
    assert shell.attached_machine() is machines["mail2"] and "Now on mail2" in note
    assert "mail2" in lab.status.value


def test_reset_puts_the_commands_on_the_steps_machine(tmp_path):
    session, machines = _two_machine_session(tmp_path)
    lab = NotebookLab(session)
    lab.start()
    note = lab.reset_step("backup-relay")
    assert session.resets == ["backup-relay"] and shell.attached_machine() is machines["mail2"]
    assert "Now on mail2" in note
    note = lab.reset_step("primary")
    assert shell.attached_machine() is machines["mail1"] and "Now on mail1" in note


def test_each_cell_belongs_to_the_step_whose_check_follows_it(tmp_path):
    import json
    session, machines = _two_machine_session(tmp_path)
    cells = [{"cell_type": "code", "id": "open", "source": 'lab = open_lab("backup-mx")'},
             {"cell_type": "code", "id": "p-look", "source": "!postconf mydestination"},
             {"cell_type": "code", "id": "p-check", "source": 'lab.check("primary")'},
             {"cell_type": "markdown", "id": "b-head", "source": "## Step 2"},
             {"cell_type": "code", "id": "b-look", "source": "!postconf relay_domains"},
             {"cell_type": "code", "id": "b-check", "source": 'lab.check("backup-relay")'},
             {"cell_type": "code", "id": "f-queue", "source": "!postqueue -p"},
             {"cell_type": "code", "id": "f-mail1", "source": 'lab.use_machine("mail1")\n!ls'},
             {"cell_type": "code", "id": "f-check", "source": 'lab.check("failover")'}]
    (tmp_path / "lab.ipynb").write_text(json.dumps({"cells": cells}))
    session.lab.dir = tmp_path
    lab = NotebookLab(session)
    steps = lab.cell_steps()
    assert steps == {"open": "primary", "p-look": "primary", "p-check": "primary", "b-look": "backup-relay",
                     "b-check": "backup-relay", "f-queue": "failover", "f-check": "failover"}


def test_the_cell_hook_follows_the_step_without_ipython(tmp_path, capsys, monkeypatch):
    import json
    import classroom.notebook.notebook_lab as notebook_lab
    session, machines = _two_machine_session(tmp_path)
    cells = [{"cell_type": "code", "id": "p", "source": 'lab.check("primary")'},
             {"cell_type": "code", "id": "q", "source": "!postqueue -p"}]
    (tmp_path / "lab.ipynb").write_text(json.dumps({"cells": cells}))
    session.lab.dir = tmp_path
    registered = []

    class Events:
        def register(self, name, fn):
            registered.append((name, fn))

        def unregister(self, name, fn):
            registered.remove((name, fn))

    class Shell:
        events = Events()
        extension_manager = type("M", (), {"loaded": {"classroom.notebook.shell"}})()

    monkeypatch.setattr(notebook_lab, "get_ipython", lambda: Shell())
    lab = NotebookLab(session)
    lab.start()
    ((name, follow),) = registered
    assert name == "pre_run_cell"
    capsys.readouterr()
    follow(type("Info", (), {"cell_id": "q"})())
    assert shell.attached_machine() is machines["mail2"]
    assert "Now on mail2" in capsys.readouterr().out
    follow(type("Info", (), {"cell_id": "q"})())  # already there: nothing said
    assert capsys.readouterr().out == ""
    follow(type("Info", (), {"cell_id": "p"})())
    assert shell.attached_machine() is machines["mail1"] and "Now on mail1" in capsys.readouterr().out
    follow(type("Info", (), {"cell_id": "unknown-cell"})())  # a cell of the learner's: stays where it is
    assert shell.attached_machine() is machines["mail1"]
    NotebookLab(session).start()  # the lab opened again: one hook, not two
    assert len(registered) == 1


@pytest.mark.parametrize("network", [None, "a network"])
def test_a_stopped_machine_is_named_as_the_lab_names_it(tmp_path, capsys, network):
    session, machines = _two_machine_session(tmp_path, network=network)
    lab = NotebookLab(session)
    lab.start()
    lab.follow_step("failover")
    machines["mail2"].running = False
    with pytest.raises(shell.MachineUnreachable) as raised:
        shell.machine_argv(["postqueue", "-p"])
    said = str(raised.value)
    assert "mail2" in said and "hmachines--" not in said and "--mail2" not in said
    if network:
        assert 'lab.node("mail2", "start")' in said
    else:
        assert "run the first cell of the lab" in said
    session.running = False  # `maillab down`: the whole lab is stopped, its first cell starts it again
    with pytest.raises(shell.MachineUnreachable) as raised:
        shell.machine_argv(["postqueue", "-p"])
    assert "run the first cell of the lab" in str(raised.value) and "lab.node" not in str(raised.value)
