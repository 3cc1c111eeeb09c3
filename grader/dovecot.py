"""Probes of Dovecot on a lab machine: its settings as `doveconf` reads them, whether it runs,
where its LMTP service listens, and what a user's mailbox holds as `doveadm` sees it.

Functions of a Host, so any lab's checks can use them; they raise Fail (with what was seen) when
Dovecot's own tools cannot answer.
"""
from __future__ import annotations

import re
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .check import Fail
from .i18n import _
from .probes import MissingCommand, first_line

if TYPE_CHECKING:
    from .host import Host

_SETTING = re.compile(r"[A-Za-z0-9_/]+")
_LISTENER = re.compile(r"^\s*unix_listener\s+(?P<path>\S+)\s*\{", re.MULTILINE)


@dataclass(frozen=True)
class ConfigState:
    ok: bool
    error: str  # doveconf's complaint when the configuration cannot be read


# What doveconf reads of a machine: its configuration, and the protocols its packages installed.
CONFIG_TREES = ("/etc/dovecot", "/usr/share/dovecot/protocols.d")
MAX_FILES = 300


def _doveconf(host: "Host", *args: str):
    """`doveconf ARGS`: Dovecot's own doveconf from the image's packages, reading copies of the
    machine's configuration (a `doveconf` replaced inside cannot say what the grader wants to hear);
    the machine's own where the backend has no trusted tools."""
    trusted = getattr(host.backend, "run_trusted", None)
    if trusted is None:
        return host._tool("doveconf", *args)
    if host.backend.stat("/usr/bin/doveconf") is None:
        raise MissingCommand(("doveconf", *args))  # Dovecot is not installed (or was removed)
    files: dict[str, bytes] = {}
    for tree in CONFIG_TREES:
        _copy_tree(host, tree, files, depth=3)
    for path in ("/etc/passwd", "/etc/group"):  # the users it names (dovecot, dovenull) are the machine's
        try:
            files[path] = host.backend.read_bytes(path, host.read_limit)
        except OSError:
            pass
    argv = ["/usr/bin/doveconf", *args]
    return trusted(argv, files, opaque=CONFIG_TREES, timeout=host._bound(host.timeout, argv))


def _copy_tree(host: "Host", folder: str, files: dict[str, bytes], depth: int) -> None:
    try:
        names = host.backend.listdir(folder)
    except OSError:
        return
    for name in sorted(names):
        if len(files) >= MAX_FILES:
            return
        path = f"{folder}/{name}"
        info = host.backend.stat(path)
        if info is None:
            continue
        if stat.S_ISDIR(info.st_mode):
            if depth > 0:
                _copy_tree(host, path, files, depth - 1)
            continue
        try:  # a regular file, or a link (followed inside the machine only: the snakeoil certificate)
            files[path] = host.backend.read_bytes(path, host.read_limit)
        except OSError:
            continue


def config_state(host: "Host") -> ConfigState:
    """Can Dovecot read its configuration? (`doveconf -n` fails the way Dovecot's start would.)"""
    done = _doveconf(host, "-n")
    if done.ok:
        return ConfigState(True, "")
    lines = [line for line in (done.err or done.out).strip().splitlines() if line.strip()]
    return ConfigState(False, lines[-1] if lines else _("doveconf exited with status {code}", code=done.returncode))


def setting(host: "Host", name: str) -> str:
    """A Dovecot setting's effective value (`doveconf -h NAME`)."""
    if not _SETTING.fullmatch(name):
        raise ValueError(f"not a Dovecot setting: {name!r}")
    done = _doveconf(host, "-h", name)
    if not done.ok:
        raise Fail(_("`doveconf -h {name}` failed: {error}", name=name, error=first_line(done.err) or done.returncode))
    return done.out.strip()


def running(host: "Host") -> list[int]:
    """The pids of Dovecot's master process (empty when Dovecot does not run)."""
    return [p.pid for p in host.processes("dovecot")]


def lmtp_listeners(host: "Host") -> list[str]:
    """The paths of the unix sockets Dovecot's LMTP service listens on (relative ones are under
    Dovecot's base_dir, /run/dovecot)."""
    done = _doveconf(host, "service", "lmtp")
    if not done.ok:
        return []
    base = setting(host, "base_dir").rstrip("/") or "/run/dovecot"
    return [path if path.startswith("/") else f"{base}/{path}" for path in _LISTENER.findall(done.out)]


@dataclass(frozen=True)
class Found:
    user: str
    ok: bool           # doveadm could look
    uids: tuple[str, ...]
    error: str         # doveadm's complaint when it could not look

    def __bool__(self) -> bool:
        return bool(self.uids)


def find_tagged(host: "Host", user: str, tag: str, mailbox: str = "INBOX") -> Found:
    """The messages of `user`'s `mailbox` with this X-MailLab-Tag, as Dovecot itself sees them."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", user) or not re.fullmatch(r"[A-Za-z0-9]+", tag):
        raise ValueError(f"not a user and tag: {user!r} {tag!r}")
    done = host._tool("doveadm", "search", "-u", user, "mailbox", mailbox, "header", "X-MailLab-Tag", tag)
    if not done.ok:
        said = [line for line in (done.err or done.out).strip().splitlines() if line.strip()]
        return Found(user, False, (), said[-1] if said else _("doveadm exited with status {code}", code=done.returncode))
    uids = tuple(line.split()[-1] for line in done.out.splitlines() if line.strip())
    return Found(user, True, uids, "")
