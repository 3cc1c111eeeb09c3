"""Do the file probes stay inside the machine, in bounded time and memory, whatever the learner
puts at a path? A real directory tree stands in for a machine's root (the probes read a machine's
files from the host exactly like this); hypothesis plants directories, FIFOs, sockets, devices,
symlinks out of the machine, loops and huge sparse files where the grader expects files."""
from __future__ import annotations

import os
import socket
import stat
import tempfile
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from grader.backends import MachineBackend
from grader.check import Fail
from grader.host import Host
from grader.mailbox import Mailbox, Maildir
from grader.maillog import MailLog

SECRET = b"HOST SECRET 5f3c"
PATHS = ["/etc/postfix/main.cf", "/etc/postfix", "/var/log/mail.log", "/var/log", "/var/mail/root",
         "/home/a/Maildir/new/1.mail", "/home/a/Maildir/new", "/home/a/Maildir", "/etc/mailname"]
KINDS = ["bytes", "huge", "dir", "fifo", "socket", "zero-device", "link-out", "link-climb", "link-loop",
         "link-chain", "link-inside", "file-as-parent"]
PROBED = ["/etc/postfix/main.cf", "/var/log/mail.log", "/var/mail/root", "/etc/mailname",
          "/etc/postfix/main.cf/x", "/var/log/mail\0.log", "/var/log/" + "x" * 300 + "/mail.log"]


class StandInMachine:
    name = "mail"

    def __init__(self, root: Path) -> None:
        self.root = root


def _through_a_link(root: Path, target: Path) -> bool:
    """Does the way from `root` to `target`'s folder pass a link planted earlier? Planting there would
    follow it out of the stand-in machine onto this host: such a planting is left out."""
    folder = root
    for part in target.relative_to(root).parts[:-1]:
        folder = folder / part
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            return True
    return False


def plant(root: Path, secret: Path, path: str, kind: str, data: bytes) -> None:
    target = root / path.lstrip("/")
    if _through_a_link(root, target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        if target.is_dir() and not target.is_symlink():
            return  # keep earlier plantings below it
        target.unlink()
    if kind == "bytes":
        target.write_bytes(data)
    elif kind == "huge":
        with open(target, "wb") as handle:  # sparse: 600 MB to the reader, nothing on disk
            handle.write(data)
            handle.truncate(600 * 2**20)
    elif kind == "dir":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        try:
            server.bind(str(target))
        except OSError:  # path too long for a socket address
            target.write_bytes(data)
        server.close()
    elif kind == "zero-device":
        try:
            os.mknod(target, 0o644 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero: endless
        except PermissionError:
            os.mkfifo(target)
    elif kind == "link-out":
        target.symlink_to(secret)  # the host's file, by its absolute host path
    elif kind == "link-climb":
        target.symlink_to("../" * 30 + str(secret).lstrip("/"))
    elif kind == "link-loop":
        target.symlink_to(target.name)
    elif kind == "link-chain":
        target.symlink_to("/etc/shadow")  # absolute inside the machine: its own shadow
    elif kind == "link-inside":
        target.symlink_to("/" + path.strip("/").split("/")[0])  # a directory of the machine
    elif kind == "file-as-parent":
        target.parent.rmdir() if not any(target.parent.iterdir()) else None
        if not target.parent.exists():
            target.parent.write_bytes(data)


plantings = st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(KINDS), st.binary(max_size=300)),
                     min_size=1, max_size=5)


def probe_everything(host: Host) -> list[object]:
    seen: list[object] = []
    for path in PROBED:
        for probe in (lambda: host.file(path).describe(), lambda: host.file(path).text,
                      lambda: MailLog(host.backend, path).text(0), lambda: MailLog(host.backend, path).lines(),
                      lambda: [m.raw for m in Mailbox(host.backend, path).messages()]):
            try:
                seen.append(probe())
            except Fail as failure:  # the learner's state, said in words
                assert failure.detail and path in failure.detail
                seen.append(failure.detail)
    maildir = Maildir(host.backend, "/home/a/Maildir")
    seen.append([m.raw for m in maildir.messages()])
    seen.append(maildir.describe())
    return seen


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plantings)
@example([("/home/a/Maildir/new", "link-loop", b"")])
def test_file_probes_answer_or_fail_in_words_and_never_leave_the_machine(planted):
    with tempfile.TemporaryDirectory() as tmp:
        secret = Path(tmp) / "host" / "shadow"
        secret.parent.mkdir()
        secret.write_bytes(SECRET)
        root = Path(tmp) / "machine"
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "shadow").write_bytes(b"machine shadow\n")
        for path, kind, data in planted:
            try:
                plant(root, secret, path, kind, data)
            except OSError:
                pass  # an earlier planting is in the way (a file where a directory would go)
        host = Host(MachineBackend(StandInMachine(root)))
        tracemalloc.start()
        started = time.monotonic()
        try:
            seen = probe_everything(host)
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert time.monotonic() - started < 10
        # Every read is bounded (4 MiB per file), so a 600 MB file costs a few of those at most.
        assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"
        assert SECRET.decode() not in repr(seen)


def test_a_fifo_mail_log_fails_in_words_instead_of_hanging(tmp_path):
    """Does a FIFO where the mail log should be give a sentence (not a hang, not a grader bug)?"""
    (tmp_path / "var" / "log").mkdir(parents=True)
    os.mkfifo(tmp_path / "var" / "log" / "mail.log")
    log = MailLog(MachineBackend(StandInMachine(tmp_path)))
    with pytest.raises(Fail, match=r"/var/log/mail.log is not a regular file \(a FIFO"):
        log.lines()


def test_a_directory_mailbox_fails_in_words(tmp_path):
    (tmp_path / "var" / "mail" / "root").mkdir(parents=True)
    box = Mailbox(MachineBackend(StandInMachine(tmp_path)), "/var/mail/root")
    with pytest.raises(Fail, match="/var/mail/root is a directory, not a file"):
        box.messages()


def test_a_maildir_of_big_messages_is_read_within_its_budget(tmp_path):
    new = tmp_path / "Maildir" / "new"
    new.mkdir(parents=True)
    (tmp_path / "Maildir" / "cur").mkdir()
    for n in range(40):
        (new / f"{1700000000 + n}.M{n}.mail").write_bytes(
            f"Message-Id: <m{n}@x>\n\n".encode() + b"x" * (2 * 2**20))
    box = Maildir(MachineBackend(StandInMachine(tmp_path)), "/Maildir", budget=8 * 2**20)
    found = box.messages()
    assert sum(len(m.raw) for m in found) <= 8 * 2**20
    assert found[-1].message_id == "m39@x"  # the newest are the ones kept
