"""Probes of Dovecot on a lab machine: its settings as `doveconf` reads them, whether it runs,
where its LMTP service listens, and what a user's mailbox holds as `doveadm` sees it.

Functions of a Host, so any lab's checks can use them; they raise Fail (with what was seen) when
Dovecot's own tools cannot answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .check import Fail
from .i18n import _
from .probes import first_line

if TYPE_CHECKING:
    from .host import Host

_SETTING = re.compile(r"[A-Za-z0-9_/]+")
_LISTENER = re.compile(r"^\s*unix_listener\s+(?P<path>\S+)\s*\{", re.MULTILINE)


@dataclass(frozen=True)
class ConfigState:
    ok: bool
    error: str  # doveconf's complaint when the configuration cannot be read


def config_state(host: "Host") -> ConfigState:
    """Can Dovecot read its configuration? (`doveconf -n` fails the way Dovecot's start would.)"""
    done = host._tool("doveconf", "-n")
    if done.ok:
        return ConfigState(True, "")
    lines = [line for line in (done.err or done.out).strip().splitlines() if line.strip()]
    return ConfigState(False, lines[-1] if lines else _("doveconf exited with status {code}", code=done.returncode))


def setting(host: "Host", name: str) -> str:
    """A Dovecot setting's effective value (`doveconf -h NAME`)."""
    if not _SETTING.fullmatch(name):
        raise ValueError(f"not a Dovecot setting: {name!r}")
    done = host._tool("doveconf", "-h", name)
    if not done.ok:
        raise Fail(_("`doveconf -h {name}` failed: {error}", name=name, error=first_line(done.err) or done.returncode))
    return done.out.strip()


def running(host: "Host") -> list[int]:
    """The pids of Dovecot's master process (empty when Dovecot does not run)."""
    return [p.pid for p in host.processes("dovecot")]


def lmtp_listeners(host: "Host") -> list[str]:
    """The paths of the unix sockets Dovecot's LMTP service listens on (relative ones are under
    Dovecot's base_dir, /run/dovecot)."""
    done = host._tool("doveconf", "service", "lmtp")
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
