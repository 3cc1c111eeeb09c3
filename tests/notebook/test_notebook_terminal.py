"""The JupyterLab terminal: which machine it enters, and what it says when it cannot."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from classroom.notebook import terminal


def decl(name, hostname=None):
    return SimpleNamespace(name=name, hostname=hostname or name, domain="example.test")


def test_a_lab_with_one_machine_asks_nothing():
    asked = []
    assert terminal.choose([decl("mail")], "install-postfix", ask=asked.append).name == "mail"
    assert asked == []


def test_a_lab_with_several_machines_asks_by_number_or_name():
    machines = [decl("mail"), decl("mx2"), decl("client")]
    said = []
    answers = iter(["7", "mx2"])
    chosen = terminal.choose(machines, "backup-mx", ask=lambda _q: next(answers), say=said.append)
    assert chosen.name == "mx2"
    assert "The lab backup-mx has 3 machines:" in said
    assert "  2) mx2  (mx2.example.test)" in said
    assert any("There is no machine '7' here" in line for line in said)
    assert terminal.choose(machines, "backup-mx", ask=lambda _q: "3", say=said.append).name == "client"
    assert terminal.choose(machines, "backup-mx", ask=lambda _q: "", say=said.append).name == "mail"


def test_the_prompt_names_a_machine_whose_host_name_differs(fake_machine):
    assert "debian_chroot=relay" in terminal.shell_argv(fake_machine, decl("relay", hostname="mail"))
    plain = terminal.shell_argv(fake_machine, decl("mail"))
    assert not any(a.startswith("debian_chroot=") for a in plain) and plain[-2:] == ["/bin/bash", "-l"]


def run_terminal(tmp_path, learner: str, state: str | None = None) -> subprocess.CompletedProcess:
    """`python -m classroom.notebook.terminal` as JupyterLab starts it, Enter pressed at once."""
    home = tmp_path / "home"
    if state is not None:
        (home / "learners").mkdir(parents=True)
        (home / "learners" / f"{learner}.json").write_text(state)
    env = {**os.environ, "MAILLAB_HOME": str(home), "MAILLAB_LEARNER": learner,
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", "classroom.notebook.terminal"], input="\n", env=env,
                          capture_output=True, text=True, timeout=30)


def test_a_terminal_before_any_lab_says_what_to_do(tmp_path):
    done = run_terminal(tmp_path, "nobody-yet")
    assert done.returncode == 1
    assert "No lab is running yet" in done.stdout and "run its first cell" in done.stdout
    assert "Press Enter to close this terminal." in done.stdout and "Traceback" not in done.stderr


def test_a_terminal_on_a_stopped_machine_says_what_to_do(tmp_path):
    done = run_terminal(tmp_path, "stopped-one", state=json.dumps({"lab": "install-postfix"}))
    assert done.returncode == 1
    assert "Your machine mail is not running" in done.stdout
    assert "`maillab lab start install-postfix`" in done.stdout and "Traceback" not in done.stderr


def test_the_default_machine_is_the_one_the_notebook_works_on():
    machines = [decl("mail1"), decl("mail2")]
    asked = []

    def ask(question):
        asked.append(question)
        return ""

    assert terminal.choose(machines, "backup-mx", ask=ask, say=lambda _l: None, default="mail2").name == "mail2"
    assert asked[-1].endswith("[2]: ")


class LabMachine:
    """A machine whose life the test drives: running, and `made` (a reset makes a new one)."""

    def __init__(self):
        self.up, self.made = True, "first"

    def running(self):
        return self.up

    def enter_argv(self, argv, *, tty=False, env=None):
        return ["shell-on-mail2", *argv]


def attend(machine, events, answers=("",)):
    """terminal.attend on a session of one machine; each run of the shell applies the next event."""
    session = SimpleNamespace(lab=SimpleNamespace(id="backup-mx"), machine=lambda name: machine)
    said, runs = [], []
    events, answers = iter(events), iter(answers)

    def run(argv):
        runs.append(argv)
        next(events)(machine)
        return 0

    def ask(question):
        said.append(question)
        try:
            return next(answers)
        except StopIteration:
            raise EOFError from None

    code = terminal.attend(session, decl("mail2"), run=run, ask=ask, say=said.append, settle=0.2)
    return code, said, runs


def test_exit_in_the_shell_closes_the_terminal():
    code, said, runs = attend(LabMachine(), [lambda m: None])
    assert code == 0 and len(runs) == 1 and said == []


def test_a_reset_keeps_the_terminal_says_so_and_enter_connects_to_the_new_machine():
    def reset(machine):
        machine.made = "second"

    code, said, runs = attend(LabMachine(), [reset, lambda m: None])
    assert len(runs) == 2  # Enter connected again
    assert any("mail2 was reset" in line for line in said)
    assert any("Press Enter to connect to mail2 again" in line for line in said)


def test_a_stop_keeps_the_terminal_and_waits_until_the_machine_runs_again():
    machine = LabMachine()

    def stop(m):
        m.up = False

    answers = iter(["", ""])

    def answer_and_start():
        for value in answers:
            machine.up = True  # meanwhile the learner ran the lab's first cell
            yield value

    code, said, runs = attend(machine, [stop, lambda m: None], answers=answer_and_start())
    assert any("mail2 was stopped" in line for line in said)
    assert len(runs) == 2 and code == 0


def test_a_machine_still_stopped_after_enter_says_so_again_and_ctrl_d_closes():
    machine = LabMachine()

    def stop(m):
        m.up = False

    code, said, runs = attend(machine, [stop], answers=["", ""])
    assert len(runs) == 1
    assert sum("is not running" in line for line in said) == 2


def test_the_title_names_the_machine():
    assert terminal.title("mail2 \u00b7 backup-mx") == "\x1b]0;mail2 \u00b7 backup-mx\x07"
    assert terminal.title("evil\x1b]0;x\x07") == "\x1b]0;evil]0;x\x07"
