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
