"""MachineBackend reads a machine's files from the host without ever leaving the machine's root."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from grader import Host
from grader.backends import COMMAND_ENV, MAX_SYMLINK_HOPS, MachineBackend
from grader.testing import FakeBackend
from sandbox.errors import CommandTimeout
from sandbox.result import ExecResult


class StandInMachine:
    """Just what MachineBackend needs: a root on the host and an exec that records its calls."""

    def __init__(self, root: Path) -> None:
        self.name = "mail"
        self.root = root
        self.calls: list[dict] = []

    def exec(self, argv, *, input=None, timeout=10.0, env=None):
        self.calls.append({"argv": list(argv), "input": input, "timeout": timeout, "env": env})
        return ExecResult(tuple(argv), 0, b"ok\n", b"", 0.01)


@pytest.fixture
def world(tmp_path):
    """A host directory holding a 'host secret' and, beside it, a machine root."""
    host_etc = tmp_path / "host-etc"
    host_etc.mkdir()
    (host_etc / "shadow").write_text("HOST SECRET\n")
    root = tmp_path / "machine"
    (root / "etc" / "postfix").mkdir(parents=True)
    (root / "etc" / "shadow").write_text("machine shadow\n")
    (root / "etc" / "postfix" / "main.cf.real").write_text("myhostname = mail\n")
    return tmp_path, root, MachineBackend(StandInMachine(root))


def test_plain_file_is_read_from_the_machine_root(world):
    _, root, backend = world
    assert backend.read_bytes("/etc/postfix/main.cf.real") == b"myhostname = mail\n"
    assert backend.stat("/etc/postfix/main.cf.real").st_size == len("myhostname = mail\n")


def test_absolute_symlink_resolves_inside_the_machine(world):
    """Does a learner's main.cf -> /etc/shadow read the machine's shadow, never the host's?"""
    _, root, backend = world
    os.symlink("/etc/shadow", root / "etc" / "postfix" / "main.cf")
    assert backend.read_bytes("/etc/postfix/main.cf") == b"machine shadow\n"


def test_symlink_to_a_host_path_missing_in_the_machine_is_not_found(world):
    tmp, root, backend = world
    os.symlink(str(tmp / "host-etc" / "shadow"), root / "etc" / "postfix" / "main.cf")
    with pytest.raises(FileNotFoundError) as caught:
        backend.read_bytes("/etc/postfix/main.cf")
    # The message names the machine's path, not where the machine lives on the host.
    assert caught.value.filename == "/etc/postfix/main.cf"
    assert backend.stat("/etc/postfix/main.cf") is None


def test_dotdot_cannot_climb_above_the_root(world):
    _, root, backend = world
    assert backend.read_bytes("/../../../etc/postfix/../../../etc/shadow") == b"machine shadow\n"
    os.symlink("../../../../../host-etc/shadow", root / "etc" / "escape")
    with pytest.raises(FileNotFoundError):
        backend.read_bytes("/etc/escape")
    os.symlink("../../../../../etc/shadow", root / "etc" / "postfix" / "up")
    assert backend.read_bytes("/etc/postfix/up") == b"machine shadow\n"


def test_symlinked_directory_in_the_middle_of_a_path(world):
    tmp, root, backend = world
    os.symlink("/", root / "etc" / "rootlink")
    assert backend.read_bytes("/etc/rootlink/etc/shadow") == b"machine shadow\n"
    os.symlink(str(tmp), root / "hostdir")  # an absolute host path means nothing inside
    assert backend.stat("/hostdir/host-etc/shadow") is None
    assert backend.listdir("/etc/rootlink/etc") == ["postfix", "rootlink", "shadow"]


def test_symlink_loops_are_bounded(world):
    _, root, backend = world
    os.symlink("b", root / "a")
    os.symlink("a", root / "b")
    assert backend.stat("/a") is None
    with pytest.raises(OSError) as caught:
        backend.read_bytes("/a")
    assert caught.value.errno == errno.ELOOP


def test_a_chain_of_forty_symlinks_resolves_but_forty_one_does_not(world):
    _, root, backend = world
    (root / "target").write_text("end\n")
    previous = "target"
    for n in range(MAX_SYMLINK_HOPS + 1):
        os.symlink(previous, root / f"link{n}")
        previous = f"link{n}"
    assert backend.read_bytes(f"/link{MAX_SYMLINK_HOPS - 1}") == b"end\n"
    with pytest.raises(OSError) as caught:
        backend.read_bytes(f"/link{MAX_SYMLINK_HOPS}")
    assert caught.value.errno == errno.ELOOP


def test_reads_are_bounded_and_can_start_at_an_offset(world):
    _, root, backend = world
    (root / "var" / "log").mkdir(parents=True)
    (root / "var" / "log" / "mail.log").write_bytes(b"0123456789")
    assert backend.read_bytes("/var/log/mail.log", 4) == b"0123"
    assert backend.read_bytes("/var/log/mail.log", 4, offset=7) == b"789"
    assert backend.read_bytes("/var/log/mail.log", 4, offset=20) == b""


def test_a_fifo_is_refused_rather_than_read(world):
    """Would a learner's FIFO in place of main.cf hang the grader?"""
    _, root, backend = world
    os.mkfifo(root / "etc" / "postfix" / "main.cf")
    with pytest.raises(OSError) as caught:
        backend.read_bytes("/etc/postfix/main.cf")
    assert "not a regular file" in str(caught.value)


def test_directories_are_listed_but_not_read(world):
    _, _, backend = world
    assert backend.listdir("/etc/postfix") == ["main.cf.real"]
    with pytest.raises(IsADirectoryError):
        backend.read_bytes("/etc/postfix")
    with pytest.raises(NotADirectoryError):
        backend.listdir("/etc/shadow")
    assert backend.stat("/etc/shadow/x") is None


def test_commands_go_to_the_machine_with_a_fixed_locale_and_the_bound(world):
    _, root, backend = world
    machine = backend.machine
    host = Host(MachineBackend(machine), name=machine.name)
    res = host.run("postconf", "-h", "myhostname", timeout=3)
    assert res.out == "ok\n"
    assert machine.calls == [{"argv": ["postconf", "-h", "myhostname"], "input": None,
                              "timeout": 3, "env": COMMAND_ENV}]
    assert host.name == "mail"


def test_fake_backend_answers_scripted_commands_and_127_otherwise():
    fake = FakeBackend({"/etc/mailname": "mail.example.test\n"})
    fake.on("postconf", "-h", stdout="x\n")
    fake.on("postconf", "-h", "mydomain", stdout="example.test\n")
    fake.on("slow", timeout=True)
    assert fake.run(["postconf", "-h", "mydomain"], timeout=1).out == "example.test\n"
    assert fake.run(["postconf", "-h", "other"], timeout=1).out == "x\n"
    assert fake.run(["doveadm"], timeout=1).returncode == 127
    with pytest.raises(CommandTimeout):
        fake.run(["slow"], timeout=2)
    assert fake.listdir("/etc") == ["mailname"]
    assert fake.stat("/etc").st_mode & 0o040000
    assert fake.read_bytes("/etc/mailname", 4) == b"mail"
