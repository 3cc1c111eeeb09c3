"""The JupyterLab terminal: which machine it enters, and what it says when it cannot."""
from __future__ import annotations

from types import SimpleNamespace

from grader.notebook import terminal


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
