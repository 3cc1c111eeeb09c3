"""Speaking SMTP to a server the way an outside client or MTA would, and keeping what was seen.

`converse` holds one conversation: connect, greeting, EHLO (HELO if EHLO is refused), STARTTLS if
asked, AUTH (PLAIN or LOGIN) if asked, MAIL, each RCPT, DATA, QUIT. It never raises for network or protocol trouble: it returns a
`Conversation` that says how far it got and what the server answered, in plain words.
`send_like_an_mta` tries a domain's MX hosts in preference order, as a sending MTA does.

The caller supplies `connect(host, port, timeout) -> socket`, so the socket can be made inside a
lab network namespace; smtplib speaks over it. Its OSErrors are network trouble (told in words);
any other exception it raises (say, no such namespace) is the caller's and passes through.
"""
from __future__ import annotations

import base64
import errno
import re
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from .bounded import TooMuch, TooSlow, bounded, insecure_context
from .i18n import N_, Msg, _, translate

Connect = Callable[[str, int, float], socket.socket]
_LINE_END = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)
_MAX_LINE = 8192  # as smtplib: a longer line is no SMTP reply
_MAX_REPLY_LINES = 200  # a real EHLO reply has about ten
_MAX_REPLY_BYTES = 64 * 1024  # one reply (a greeting, an EHLO answer); a real one is under 1 KiB
_REPLY_LINE = re.compile(rb"[2-5]\d\d(?:[ -]|\r?\n|$)")
_QUEUED_AS = re.compile(r"queued as (?P<qid>[0-9A-Za-z]+)")
_CONNECT_ERRORS = {
    errno.ECONNREFUSED: N_("connection refused"),
    errno.ETIMEDOUT: N_("timed out"),
    errno.EHOSTUNREACH: N_("no route to host"),
    errno.ENETUNREACH: N_("network is unreachable"),
    errno.ECONNRESET: N_("connection reset"),
}


@dataclass(frozen=True)
class Reply:
    """A server's answer: its code (None when it was not SMTP) and its lines, without the code."""
    code: int | None
    lines: tuple[str, ...]

    @classmethod
    def of(cls, code: int, text: bytes | str) -> "Reply":
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return cls(code if 100 <= code <= 599 else None, tuple(text.split("\n")))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def ok(self) -> bool:
        """A positive answer (2xx or 3xx)."""
        return self.code is not None and 200 <= self.code < 400

    @property
    def temporary(self) -> bool:
        return self.code is not None and 400 <= self.code < 500

    @property
    def permanent(self) -> bool:
        return self.code is not None and 500 <= self.code < 600

    def __str__(self) -> str:
        code = "???" if self.code is None else str(self.code)
        return "\n".join(f"{code}{'-' if i < len(self.lines) - 1 else ' '}{line}" for i, line in enumerate(self.lines))


@dataclass(frozen=True)
class TLS:
    protocol: str   # e.g. "TLSv1.3"
    cipher: str     # e.g. "TLS_AES_256_GCM_SHA384"
    certificate: bytes = b""  # the server's certificate (DER), to be judged by the caller


@dataclass
class Conversation:
    host: str
    port: int
    connected: bool = False
    error: str | None = None        # why it stopped early, in plain words ("connection refused", ...)
    banner: Reply | None = None
    ehlo: Reply | None = None       # the first EHLO's answer (before TLS)
    helo: Reply | None = None       # only when EHLO was refused
    extensions: dict[str, str] = field(default_factory=dict)  # lower-case keyword -> its parameters
    starttls: Reply | None = None
    tls: TLS | None = None
    ehlo_tls: Reply | None = None   # EHLO again, inside TLS
    extensions_tls: dict[str, str] = field(default_factory=dict)  # what EHLO offers inside TLS
    auth: Reply | None = None       # the last answer to AUTH (235: logged in)
    mail: Reply | None = None
    rcpt: dict[str, Reply] = field(default_factory=dict)  # in the order sent
    data: Reply | None = None       # the answer to the message (or to the DATA command when it refused)
    queue_id: str | None = None     # from "250 ... queued as QUEUEID"
    transcript: list[str] = field(default_factory=list)  # "> " what was sent, "< " what came back
    seconds: float = 0.0

    @property
    def starttls_offered(self) -> bool:
        return "starttls" in self.extensions

    @property
    def auth_offered(self) -> bool:
        """AUTH offered before STARTTLS (in clear text)."""
        return "auth" in self.extensions

    @property
    def auth_offered_in_tls(self) -> bool:
        return "auth" in self.extensions_tls

    @property
    def authenticated(self) -> bool:
        return self.auth is not None and self.auth.code == 235

    @property
    def accepted(self) -> list[str]:
        """The recipients the server took."""
        return [address for address, reply in self.rcpt.items() if reply.ok]

    @property
    def delivered(self) -> bool:
        """The server took the message (its final answer was 2xx)."""
        return self.data is not None and self.data.code is not None and 200 <= self.data.code < 300

    def describe(self) -> str:
        """What happened, line by line, in the current language (the transcript as it was)."""
        head = (_("connected to {host} port {port}", host=self.host, port=self.port) if self.connected
                else _("could not connect to {host} port {port}: {error}", host=self.host, port=self.port,
                       error=self.error))
        tail = [_("stopped: {error}", error=self.error)] if self.connected and self.error else []
        return "\n".join(str(translate(line)) for line in [head, *self.transcript, *tail])


class _Unbounded(smtplib.SMTPException):
    """A reply past what any SMTP server sends (too long a line, too many lines or bytes): `why`
    says which, in words, once the caller knows the port and the step."""

    def __init__(self, why: str, limit: int) -> None:
        super().__init__(why)
        self.why, self.limit = why, limit


class _Client(smtplib.SMTP):
    """smtplib over the caller's socket, noting every command and reply."""

    def __init__(self, connect: Connect, ehlo: str, timeout: float, transcript: list[str]) -> None:
        # local_hostname given: smtplib would otherwise look up this host's own name in DNS.
        super().__init__(local_hostname=ehlo, timeout=timeout)
        self._connect = connect
        self._transcript = transcript
        self._in_data = False
        self._secret = False  # a password is being sent: the transcript does not show it

    def open(self, host: str, port: int) -> None:
        """Connect (OSError when it cannot); the greeting is read apart, so its trouble is told apart."""
        self._host = host  # for STARTTLS's server_hostname
        self.sock = bounded(self._connect(host, port, self.timeout))
        self.sock.settimeout(self.timeout)
        self.file = None

    def putcmd(self, cmd: str, args: str = "") -> None:
        super().putcmd(cmd.upper(), args)  # "MAIL FROM:<...>" as people write it, in the transcript too

    def send(self, s) -> None:
        if self._in_data:
            self._transcript.append(_("> (the message, {size} bytes, ending with a lone .)", size=len(s)))
        elif self._secret:
            shown = (s.decode("utf-8", "replace") if isinstance(s, bytes) else s).rstrip("\r\n")
            head = " ".join(shown.split(" ")[:2]) if shown.upper().startswith("AUTH ") else ""
            self._transcript.append(_("> {command} (the user name and password, hidden)", command=head) if head
                                    else _("> (the user name and password, hidden)"))
        else:
            shown = s.decode("utf-8", "replace") if isinstance(s, bytes) else s
            self._transcript.append("> " + shown.rstrip("\r\n"))
        super().send(s)

    def getreply(self):
        """smtplib's reply reader, keeping a line that is not SMTP whole (smtplib cuts its first 4 bytes)."""
        if self.file is None:
            self.file = self.sock.makefile("rb")
        texts = []
        size = 0
        while True:
            try:
                line = self.file.readline(min(_MAX_LINE + 1, _MAX_REPLY_BYTES + 1 - size))
            except OSError as error:
                self.close()
                raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed: {error}") from error
            if not line:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            size += len(line)
            # Each cut-off below is reached before the next line is read: what is held stays small.
            if size > _MAX_REPLY_BYTES:
                self.close()
                raise _Unbounded("bytes", _MAX_REPLY_BYTES)
            if len(line) > _MAX_LINE:
                self.close()
                raise _Unbounded("line", _MAX_LINE)
            if not _REPLY_LINE.match(line):
                code, texts = -1, [line.strip(b" \t\r\n")]
                break
            if len(texts) >= _MAX_REPLY_LINES:
                self.close()
                raise _Unbounded("lines", _MAX_REPLY_LINES)
            code = int(line[:3])
            texts.append(line[4:].strip(b" \t\r\n"))
            if line[3:4] != b"-":
                break
        text = b"\n".join(texts)
        self._transcript.extend("< " + shown for shown in str(Reply.of(code, text)).split("\n"))
        return code, text

    def data(self, msg):
        self.putcmd("data")
        code, text = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, text)
        quoted = _LEADING_DOT.sub(b"..", _LINE_END.sub(b"\r\n", msg))
        if not quoted.endswith(b"\r\n"):
            quoted += b"\r\n"
        self._in_data = True
        try:
            self.send(quoted + b".\r\n")
        finally:
            self._in_data = False
        return self.getreply()


def converse(connect: Connect, host: str, port: int = 25, *, ehlo: str | None = "client.example",
             mail_from: str | None = None, rcpts: Iterable[str] = (), data: str | bytes | None = None,
             starttls: bool = False, auth: tuple[str, str] | None = None, auth_mechanism: str = "PLAIN",
             timeout: float = 10.0) -> Conversation:
    """One SMTP conversation; stops after EHLO (and STARTTLS) when `mail_from` is None, and before
    DATA when `data` is None or no recipient was accepted. `auth` = (user, password) logs in with
    `auth_mechanism` (PLAIN or LOGIN) after EHLO (and STARTTLS), offered or not, and stops there when
    the server does not answer 235. `ehlo=None` skips EHLO and HELO (a client that never greets).
    `timeout` bounds each wait."""
    talk = Conversation(host=host, port=port)
    started = time.monotonic()
    client = _Client(connect, ehlo or "client.example", timeout, talk.transcript)
    step = _("the greeting")
    try:
        try:
            client.open(host, port)
        except OSError as error:
            talk.error = _connect_error(error, host)
            return talk
        talk.connected = True
        talk.banner = Reply.of(*client.getreply())
        if talk.banner.code != 220:
            talk.error = (_("the server refused the session ({reply})", reply=str(talk.banner)) if talk.banner.code
                          else _("the server's greeting is not SMTP: {greeting}", greeting=repr(talk.banner.text)))
            return talk
        if ehlo is not None:
            step = "EHLO"
            talk.ehlo = Reply.of(*client.ehlo())
            if talk.ehlo.code == 250:
                talk.extensions = dict(client.esmtp_features)
            else:
                step = "HELO"
                talk.helo = Reply.of(*client.helo())
                if talk.helo.code != 250:
                    talk.error = _("the server refused HELO ({reply})", reply=str(talk.helo))
                    return talk
        if starttls:
            step = "STARTTLS"
            if not talk.starttls_offered:
                talk.error = _("the server does not offer STARTTLS")
                return talk
            if not _start_tls(client, talk):
                return talk
            step = "EHLO"
            talk.ehlo_tls = Reply.of(*client.ehlo())
            if talk.ehlo_tls.code == 250:
                talk.extensions_tls = dict(client.esmtp_features)
        if auth is not None:
            step = "AUTH"
            talk.auth = _authenticate(client, auth, auth_mechanism)
            if not talk.authenticated:
                return talk
        if mail_from is None:
            return talk
        step = "MAIL FROM"
        talk.mail = Reply.of(*client.mail(mail_from))
        if not talk.mail.ok:
            return talk
        for address in rcpts:
            step = "RCPT TO"
            talk.rcpt[address] = Reply.of(*client.rcpt(address))
        if data is None or not talk.accepted:
            return talk
        step = "DATA"
        try:
            talk.data = Reply.of(*client.data(data.encode("utf-8") if isinstance(data, str) else data))
        except smtplib.SMTPDataError as refused:
            talk.data = Reply.of(refused.smtp_code, refused.smtp_error)
            return talk
        match = _QUEUED_AS.search(talk.data.text) if talk.delivered else None
        talk.queue_id = match["qid"] if match else None
    except (smtplib.SMTPException, OSError) as error:
        talk.error = _trouble(step, error, timeout, port)
    finally:
        _quit(client)
        talk.seconds = time.monotonic() - started
    return talk


def _authenticate(client: _Client, auth: tuple[str, str], mechanism: str) -> Reply:
    """AUTH PLAIN (RFC 4616) or AUTH LOGIN; the answer that ended it."""
    user, password = auth

    def b64(text: str) -> str:
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    client._secret = True
    try:
        if mechanism.upper() == "LOGIN":
            reply = Reply.of(*client.docmd("AUTH", "LOGIN"))
            for answer in (user, password):
                if reply.code != 334:
                    return reply
                client.send(b64(answer) + "\r\n")  # as it is: a command would be upper-cased
                reply = Reply.of(*client.getreply())
            return reply
        return Reply.of(*client.docmd("AUTH", "PLAIN " + b64(f"\0{user}\0{password}")))
    finally:
        client._secret = False


def _start_tls(client: _Client, talk: Conversation) -> bool:
    # The lab's certificates are self-signed: the probe is after whether TLS works, not whom to trust.
    context = insecure_context()
    try:
        talk.starttls = Reply.of(*client.starttls(context=context))
    except smtplib.SMTPResponseException as refused:
        talk.starttls = Reply.of(refused.smtp_code, refused.smtp_error)
        talk.error = _("the server refused STARTTLS ({reply})", reply=str(talk.starttls))
        return False
    except ssl.SSLError as error:
        talk.error = _("the TLS handshake failed ({error})", error=error.reason or str(error))
        return False
    cipher = client.sock.cipher()
    talk.tls = TLS(protocol=client.sock.version() or "", cipher=cipher[0] if cipher else "",
                   certificate=client.sock.getpeercert(binary_form=True) or b"")
    talk.transcript.append(_("  (TLS started: {protocol}, {cipher})", protocol=talk.tls.protocol, cipher=talk.tls.cipher))
    return True


def _quit(client: _Client) -> None:
    if client.sock is None:
        return
    try:
        client.sock.settimeout(min(client.timeout, 2.0))
        client.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        client.close()


def _connect_error(error: OSError, host: str) -> str:
    if isinstance(error, socket.gaierror):
        return _("cannot find the address of {host}", host=host)
    if isinstance(error, TimeoutError):
        return _("timed out")
    if error.errno in _CONNECT_ERRORS:
        return Msg(_CONNECT_ERRORS[error.errno], {})
    return (error.strerror or str(error) or type(error).__name__).lower()


def _trouble(step: str, error: Exception, timeout: float, port: int) -> str:
    cause = (error.__cause__ or error.__context__) if isinstance(error, smtplib.SMTPServerDisconnected) else error
    # Named as the learner would see it: the greeting, or the answer to the command just sent.
    reply = _("its greeting") if step == _("the greeting") else _("its answer to {step}", step=step)
    if isinstance(error, _Unbounded):
        if error.why == "bytes":
            return _("the server on port {port} sent more than {kib} KiB before {reply} ended: no mail server "
                     "does that", port=port, kib=error.limit // 1024, reply=reply)
        if error.why == "lines":
            return _("the server on port {port} sent more than {lines} lines before {reply} ended: no mail server "
                     "does that", port=port, lines=error.limit, reply=reply)
        return _("the server on port {port} sent a line of more than {kib} KiB in {reply}: no mail server "
                 "does that", port=port, kib=error.limit // 1024, reply=reply)
    if isinstance(cause, TooMuch):
        return _("the server on port {port} sent more than {kib} KiB in one conversation, by {step}: no mail "
                 "server does that", port=port, kib=cause.budget // 1024, step=step)
    if isinstance(cause, TooSlow):
        return _("the server on port {port} took longer than {seconds} s and was still sending {reply} ({count} "
                 "bytes in all): it answers too slowly", port=port, reply=reply, seconds=f"{cause.seconds:.0f}",
                 count=cause.received)
    if isinstance(cause, TimeoutError):
        return _("no answer to {step} within {seconds} s", step=step, seconds=f"{timeout:g}")
    if isinstance(error, smtplib.SMTPServerDisconnected) or isinstance(cause, ConnectionError):
        return _("the server closed the connection at {step}", step=step)
    if isinstance(error, smtplib.SMTPResponseException):
        return _("the server's answer to {step} is not SMTP ({answer})", step=step, answer=repr(error.smtp_error))
    if isinstance(cause, ssl.SSLError):
        return _("TLS failed at {step} ({error})", step=step, error=cause.reason or str(cause))
    return _("{step} failed: {error}", step=step, error=str(error))


# -- as an MTA sends --------------------------------------------------------------------------
@dataclass
class MxAttempts:
    domain: str
    hosts: list[str]                 # the MX hosts, best preference first
    attempts: list[Conversation]     # one per host tried, in order

    @property
    def delivered_by(self) -> str | None:
        """The host that took the message, or None."""
        return next((talk.host for talk in self.attempts if talk.delivered), None)

    @property
    def queue_id(self) -> str | None:
        return next((talk.queue_id for talk in self.attempts if talk.delivered), None)

    def describe(self) -> str:
        """Each MX host tried and what it did, line by line, in the current language."""
        lines = [_("MX hosts of {domain}: {hosts}", domain=self.domain, hosts=", ".join(self.hosts))]
        for talk in self.attempts:
            if talk.delivered and talk.queue_id:
                lines.append(_("{host}: took the message (queued as {queue_id})", host=talk.host,
                               queue_id=talk.queue_id))
            elif talk.delivered:
                lines.append(_("{host}: took the message", host=talk.host))
            else:
                lines.append(_("{host}: {outcome}", host=talk.host, outcome=talk.error or _last_answer(talk)))
        return "\n".join(str(translate(line)) for line in lines)


def send_like_an_mta(resolve_mx: Callable[[str], Iterable[tuple[int, str]]], connect: Connect, domain: str, *,
                     mail_from: str, rcpts: Iterable[str], data: str | bytes, port: int = 25,
                     ehlo: str = "client.example", starttls: bool = False,
                     timeout: float = 10.0) -> MxAttempts:
    """Try the MX hosts of `domain` (`resolve_mx(domain)` gives (preference, host) pairs) best first,
    moving on after a failed connection or a temporary answer, stopping once a host took the message
    or refused it for good (5xx). No MX records: the domain itself is tried (RFC 5321's implicit MX)."""
    rcpts = list(rcpts)
    records = sorted(resolve_mx(domain), key=lambda record: record[0])
    delivery = MxAttempts(domain=domain, hosts=[host for _, host in records] or [domain], attempts=[])
    for host in delivery.hosts:
        talk = converse(connect, host, port, ehlo=ehlo, mail_from=mail_from, rcpts=rcpts, data=data,
                        starttls=starttls, timeout=timeout)
        delivery.attempts.append(talk)
        if talk.delivered or _refused_for_good(talk):
            break
    return delivery


def _refused_for_good(talk: Conversation) -> bool:
    if talk.mail is not None and talk.mail.permanent:
        return True
    if talk.rcpt and all(reply.permanent for reply in talk.rcpt.values()):
        return True
    return talk.data is not None and talk.data.permanent


def _last_answer(talk: Conversation) -> str:
    for reply in (talk.data, *reversed(list(talk.rcpt.values())), talk.mail):
        if reply is not None:
            return _("answered {reply}", reply=str(reply))
    return _("said nothing more")
