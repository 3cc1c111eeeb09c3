"""Reading a mailbox the way a mail client does: POP3 and IMAP from a node of the lab network.

`pop3` and `imap` log in, look for one message by its X-MailLab-Tag header and log out, leaving the
mailbox as it was (no message is deleted or marked as seen). They never raise for network or
protocol trouble: they return a `Retrieval` that says how far they got and what the server
answered, in plain words.

As in smtp_probe, the caller supplies `connect(host, port, timeout) -> socket`, so the socket can
be made inside a lab network namespace; poplib and imaplib speak over it. With `starttls=True` the
session is upgraded to TLS first (STLS / STARTTLS); with `implicit_tls=True` TLS starts at once (ports
995 and 993). Neither checks whom the certificate names: the server's certificate is kept in
`certificate`, for the caller to judge. A TLS socket keeps the bounds of the plain one.
"""
from __future__ import annotations

import imaplib
import poplib
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Callable

from .bounded import TooMuch, TooSlow, bounded, insecure_context
from .i18n import _

Connect = Callable[[str, int, float], socket.socket]
MAX_MESSAGES_SEARCHED = 50  # POP3 has no search: the newest messages are read one by one
_TAG_HEADER = "X-MailLab-Tag"
_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?:"[^"]*"|NIL) (?P<name>.+)$')


@dataclass
class Retrieval:
    protocol: str           # "POP3" or "IMAP"
    host: str
    port: int
    user: str
    connected: bool = False
    greeting: str = ""
    tls: str = ""           # the TLS version when the session was upgraded (or began in TLS)
    certificate: bytes = b""  # the server's certificate (DER) when TLS was used
    capabilities: list[str] = field(default_factory=list)  # IMAP: CAPABILITY before the login (after TLS)
    logged_in: bool = False
    login_error: str = ""   # the server's answer to a refused login
    error: str = ""         # why it stopped early (network or protocol trouble), in plain words
    messages: int = 0       # how many messages the mailbox (INBOX) holds
    found: bool = False     # the tagged message is there
    subject: str = ""       # the found message's subject
    folders: dict[str, str] = field(default_factory=dict)  # IMAP: folder name -> its flags
    subscribed: list[str] = field(default_factory=list)    # IMAP: the folders a client shows (LSUB)
    seconds: float = 0.0

    def describe(self) -> str:
        where = {"protocol": self.protocol, "host": self.host, "port": self.port}
        if not self.connected:
            return _("could not connect to {protocol} on {host} port {port}: {error}", error=self.error, **where)
        if self.error:
            return _("{protocol} on {host} port {port}: {error}", error=self.error, **where)
        if not self.logged_in:
            return _("{protocol} on {host} port {port}: the login as {user} was refused: {answer}", user=self.user,
                     answer=self.login_error, **where)
        if self.found:
            return _("{protocol} on {host} port {port}: {user} logged in; the mailbox has {count} message(s) and "
                     "holds the tagged message", user=self.user, count=self.messages, **where)
        return _("{protocol} on {host} port {port}: {user} logged in; the mailbox has {count} message(s) and "
                 "does not hold the tagged message", user=self.user, count=self.messages, **where)


class _ViaConnect:
    """poplib and imaplib, with their socket made by `connect` (in the outside client's namespace)."""

    def __init__(self, connect: Connect, host: str, port: int, timeout: float,
                 tls: ssl.SSLContext | None = None) -> None:
        self._make_socket = connect
        self._tls = tls  # implicit TLS: the handshake comes before the greeting
        super().__init__(host, port, timeout)

    def _create_socket(self, timeout):
        sock = bounded(self._make_socket(self.host, self.port, timeout))
        sock.settimeout(timeout)
        if self._tls is not None:
            try:
                return self._tls.wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
        return sock


class _POP3(_ViaConnect, poplib.POP3):
    pass


class _IMAP4(_ViaConnect, imaplib.IMAP4):
    pass


def _context() -> ssl.SSLContext:
    # The probe is after whether a client can log in and read, not whom to trust.
    return insecure_context()


def _peer(client, seen: Retrieval) -> None:
    """Note the TLS version and the server's certificate of a client's TLS socket."""
    seen.tls = client.sock.version() or "TLS"
    seen.certificate = client.sock.getpeercert(binary_form=True) or b""


def _text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)).strip()


def _trouble(error: BaseException, timeout: float) -> str:
    if isinstance(error, TooMuch):
        return _("the server sent more than {kib} KiB in one conversation: no mail server does that",
                 kib=error.budget // 1024)
    if isinstance(error, TooSlow):
        return _("the conversation took longer than {seconds} s ({count} bytes came): the server answers too slowly",
                 seconds=f"{error.seconds:.0f}", count=error.received)
    if isinstance(error, (TimeoutError, socket.timeout)):
        return _("no answer within {seconds} s", seconds=f"{timeout:g}")
    if isinstance(error, ConnectionRefusedError):
        return _("connection refused")
    if isinstance(error, ssl.SSLError):
        return _("TLS failed ({error})", error=error.reason or str(error))
    if isinstance(error, (ConnectionError, EOFError)):
        return _("the server closed the connection")
    if isinstance(error, OSError):
        return (error.strerror or str(error) or type(error).__name__).lower()
    return _text(str(error)) or type(error).__name__


def pop3(connect: Connect, host: str, user: str, password: str, *, tag: str | None = None, port: int = 110,
         starttls: bool = False, implicit_tls: bool = False, timeout: float = 5.0) -> Retrieval:
    """Log in over POP3 and look for the message tagged `tag` among the newest messages."""
    seen = Retrieval("POP3", host, port, user)
    started = time.monotonic()
    client = None
    try:
        try:
            client = _POP3(connect, host, port, timeout, _context() if implicit_tls else None)
        except poplib.error_proto as refused:
            seen.connected, seen.error = True, _("the server's greeting is not POP3 ({greeting})",
                                                 greeting=_text(refused.args[0]))
            return seen
        seen.connected = True
        seen.greeting = _text(client.getwelcome())
        if starttls:
            client.stls(_context())
        if starttls or implicit_tls:
            _peer(client, seen)
        try:
            client.user(user)
            client.pass_(password)
        except poplib.error_proto as refused:
            seen.login_error = _text(refused.args[0])
            return seen
        seen.logged_in = True
        try:
            seen.messages = client.stat()[0]
        except (ValueError, IndexError):  # poplib reads the count with int(): a broken server says anything
            seen.error = _("the server's answer to STAT is not a message count")
            return seen
        if tag:
            first = max(1, seen.messages - MAX_MESSAGES_SEARCHED + 1)
            for number in range(seen.messages, first - 1, -1):
                headers = _headers(client.top(number, 0)[1])
                if headers.get(_TAG_HEADER.lower()) == tag:
                    seen.found, seen.subject = True, headers.get("subject", "")
                    break
    except poplib.error_proto as error:
        seen.error = _("the server answered: {answer}", answer=_text(error.args[0]))
    except (OSError, EOFError) as error:
        seen.error = _trouble(error, timeout)
        if client is None:
            seen.connected = False
    finally:
        _close(client, "quit")
        seen.seconds = time.monotonic() - started
    return seen


def _headers(lines: list[bytes]) -> dict[str, str]:
    found: dict[str, str] = {}
    last = None
    for raw in lines:
        line = _text(raw) if raw.strip() else ""
        if not line:
            break
        if raw[:1] in (b" ", b"\t") and last:
            found[last] += " " + line
            continue
        name, sep, value = line.partition(":")
        if sep:
            last = name.strip().lower()
            found.setdefault(last, value.strip())
    return found


def imap(connect: Connect, host: str, user: str, password: str, *, tag: str | None = None, port: int = 143,
         starttls: bool = False, implicit_tls: bool = False, timeout: float = 5.0) -> Retrieval:
    """Log in over IMAP, list the folders, open INBOX read-only and search it for the tagged message."""
    seen = Retrieval("IMAP", host, port, user)
    started = time.monotonic()
    client = None
    try:
        try:
            client = _IMAP4(connect, host, port, timeout, _context() if implicit_tls else None)
        except imaplib.IMAP4.error as refused:
            seen.connected, seen.error = True, _("the server's greeting is not IMAP ({greeting})",
                                                 greeting=_text(str(refused)))
            return seen
        seen.connected = True
        seen.greeting = _text(client.welcome)
        if starttls:
            client.starttls(_context())
        if starttls or implicit_tls:
            _peer(client, seen)
        seen.capabilities = [_text(c) for c in client.capabilities]
        try:
            client.login(user, password)
        except imaplib.IMAP4.error as refused:
            seen.login_error = _text(str(refused)).removeprefix("b'").removeprefix('b"').rstrip("'\"")
            return seen
        seen.logged_in = True
        seen.folders = _folders(client.list()[1])
        seen.subscribed = list(_folders(client.lsub()[1]))
        status, data = client.select("INBOX", readonly=True)
        if status != "OK":
            seen.error = _("INBOX cannot be opened: {answer}", answer=_text(data[0] if data else b""))
            return seen
        count = _text(data[0]) if data and data[0] is not None else ""
        seen.messages = int(count) if re.fullmatch(r"[0-9]+", count) else 0  # a server may omit `* N EXISTS`
        if tag:
            status, data = client.search(None, "HEADER", _TAG_HEADER, tag)
            numbers = _text(data[0]).split() if status == "OK" and data and data[0] else []
            if numbers:
                seen.found = True
                status, data = client.fetch(numbers[-1], "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
                part = data[0][1] if status == "OK" and data and isinstance(data[0], tuple) else b""
                seen.subject = _headers(part.splitlines()).get("subject", "")
    except imaplib.IMAP4.error as error:
        seen.error = _("the server answered: {answer}", answer=_text(str(error)))
    except (OSError, EOFError) as error:
        seen.error = _trouble(error, timeout)
        if client is None:
            seen.connected = False
    finally:
        _close(client, "logout")
        seen.seconds = time.monotonic() - started
    return seen


def _folders(lines: list) -> dict[str, str]:
    found = {}
    for raw in lines or []:
        if not isinstance(raw, bytes):
            continue
        match = _LIST_LINE.match(raw)
        if match:
            found[_text(match["name"]).strip('"')] = _text(match["flags"])
    return found


def _close(client, how: str) -> None:
    if client is None or getattr(client, "sock", None) is None:
        return
    sock = client.sock
    try:
        sock.settimeout(2.0)
        getattr(client, how)()
    except (OSError, EOFError, poplib.error_proto, imaplib.IMAP4.error):
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass
