"""The Host facade: typed probes of one lab machine over a small Backend protocol.

Every command runs with an argv (no shell unless `run_shell` is used) and a time bound.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
import uuid
from email.utils import formatdate
from typing import Callable, Iterator, Protocol, Sequence, TypeVar

from sandbox.result import ExecResult

from .errors import Fail, StepOutOfTime
from .i18n import _
from .mailbox import Mailbox, Maildir
from .maillog import DEFAULT_MAILLOG, Delivery, MailLog, Verification, find_verification
from .queueread import read_queue
from .tables import FILE_TABLES
from .probes import (File, MasterService, MissingCommand, Package, PostconfLint, Process, QueuedMessage, Socket,
                     User, first_line, parse_dpkg_query, parse_getent_passwd, parse_postconf_m, parse_postconf_n,
                     parse_postqueue_json, parse_ps, parse_ss)

DEFAULT_TIMEOUT = 10.0
READ_LIMIT = 4 * 1024 * 1024
POLL_INTERVAL = 0.05
# How long a trusted postconf's answer stands for the same question on the same files (a check that
# asks for maillog_file, then reads the log, asks twice): each run is a process entering the
# machine's namespaces. Short, so a retry still sees what only the host name or the network changes.
TRUSTED_REUSE = 1.0
SENDMAIL = "/usr/sbin/sendmail"
MESSAGE_ID_DOMAIN = "grader.maillab.test"

T = TypeVar("T")

_PARAMETER = re.compile(r"[A-Za-z0-9_.-]+")
_SERVICE = re.compile(r"[\w.:\[\]-]+/(inet|unix|fifo|pass|unix-dgram)")  # master.cf: name/type
_FOLDED = re.compile(r"\n[ \t]+")  # a long value's continuation lines
_USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\$?")


class Backend(Protocol):
    """How a Host reaches a machine: run a command, read its files."""

    def run(self, argv: Sequence[str], *, input: bytes | None = None,
            timeout: float) -> ExecResult: ...

    def read_bytes(self, path: str, limit: int = READ_LIMIT, *, offset: int = 0) -> bytes:
        """At most `limit` bytes from `offset`. Raises FileNotFoundError."""
        ...

    def stat(self, path: str) -> os.stat_result | None: ...

    def listdir(self, path: str) -> list[str]: ...


# Table types whose data is a file, and that file's name beside the table's path.




class Host:
    def __init__(self, backend: Backend, *, name: str = "machine",
                 timeout: float = DEFAULT_TIMEOUT, read_limit: int = READ_LIMIT,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, world: object = None) -> None:
        self.backend = backend
        self.world = world  # grader.world.World in a lab with a network: other machines, servers, DNS
        self.name = name
        self.timeout = timeout
        self.read_limit = read_limit
        self._clock = clock
        self._sleep = sleep
        self._until: float | None = None
        self._answers: dict[tuple, tuple[float, ExecResult]] = {}  # trusted postconf runs (TRUSTED_REUSE)

    def __repr__(self) -> str:
        return f"<Host {self.name}>"

    # -- time bounds ------------------------------------------------------------------------

    @contextlib.contextmanager
    def bounded_until(self, until: float | None,
                      clock: Callable[[], float] | None = None) -> Iterator["Host"]:
        """Within this block no command or wait runs past `until` (a monotonic clock time)."""
        saved = self._until, self._clock
        self._until = until
        if clock is not None:
            self._clock = clock
        try:
            yield self
        finally:
            self._until, self._clock = saved

    def _bound(self, seconds: float, argv: Sequence[str] = ()) -> float:
        if self._until is None:
            return seconds
        remaining = self._until - self._clock()
        if remaining <= 0:
            shown = " ".join(argv) or _("the next command")
            raise StepOutOfTime(_("The step ran out of time before `{command}` could run.", command=shown))
        return min(seconds, remaining)

    def _poll(self, within: float, attempt: Callable[[], T],
              done: Callable[[T], bool] = bool) -> tuple[T, float]:
        """Call `attempt` until `done` says its answer will do or `within` seconds have passed."""
        start = self._clock()
        end = start + self._bound(within)
        while True:
            found = attempt()
            now = self._clock()
            if done(found) or now >= end:
                return found, now - start
            self._sleep(min(POLL_INTERVAL, max(end - now, 0)))

    def wait_for(self, attempt: Callable[[], T], *, within: float,
                 until: Callable[[T], bool] = bool) -> T:
        """Call `attempt` until `until` says its answer will do (by default: a true answer) or
        `within` seconds have passed, never past the step's time limit; the last answer either way.
        Checks wait with this, never with a loop of their own."""
        found, _waited = self._poll(within, attempt, until)
        return found

    def wait_timed(self, attempt: Callable[[], T], *, within: float,
                   until: Callable[[T], bool] = bool) -> tuple[T, float]:
        """`wait_for`, and how many seconds the wait took (for a detail such as "after 8 s")."""
        return self._poll(within, attempt, until)

    # -- the rest of the lab ----------------------------------------------------------------

    def machine(self, name: str) -> "Host":
        """Another machine of the lab, e.g. `host.machine("mail2")`, bound by the same step time limit."""
        if self.world is None:
            raise Fail(_("This lab has only one machine, {name}.", name=self.name))
        other = self.world.machine(name)
        other._until, other._clock, other._sleep = self._until, self._clock, self._sleep
        return other

    @property
    def outside(self):
        """What the lab's outside client (client.example, 203.0.113.10) does and sees: its SMTP
        conversations, sending, POP3 and IMAP (grader.world.World)."""
        if self.world is None:
            raise Fail(_("This lab has no outside client: it has no lab network."))
        return self.world

    # -- commands ---------------------------------------------------------------------------

    def run(self, *argv: str, input: bytes | None = None,
            timeout: float | None = None) -> ExecResult:
        """Run argv on the machine. Raises CommandTimeout when it exceeds its bound."""
        if not argv:
            raise ValueError("Host.run needs a command")
        bound = self._bound(self.timeout if timeout is None else timeout, argv)
        return self.backend.run(list(argv), input=input, timeout=bound)

    def _tool(self, *argv: str, input: bytes | None = None,
              timeout: float | None = None) -> ExecResult:
        result = self.run(*argv, input=input, timeout=timeout)
        if result.returncode == 127:
            raise MissingCommand(argv)
        return result

    # -- system probes ----------------------------------------------------------------------

    def package(self, name: str) -> Package:
        """A package's state: from dpkg's own status file where the backend reads a real machine (a
        `dpkg-query` replaced inside cannot claim a package), else from `dpkg-query`."""
        if getattr(self.backend, "run_trusted", None) is not None:
            return self._package_from_status(name)
        # dpkg-query expands \t and \n itself; literal ones keep the argv printable in errors.
        res = self._tool("dpkg-query", "-W", "-f", r"${Status}\t${Version}\n", "--", name)
        return parse_dpkg_query(name, res.returncode, res.out, res.err)

    def _package_from_status(self, name: str) -> Package:
        try:
            text = self.backend.read_bytes("/var/lib/dpkg/status", 64 * 2**20).decode("utf-8", "replace")
        except OSError as exc:
            return Package(name, False, _("dpkg's status file cannot be read: {error}",
                                          error=exc.strerror or str(exc)), None)
        for stanza in text.split("\n\n"):
            fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[:1] != " ")
            if fields.get("Package") == name:
                status = fields.get("Status", "")
                return Package(name, status.split()[-1:] == ["installed"], status, fields.get("Version"))
        return Package(name, False, _("dpkg-query: no packages found matching {name}", name=name), None)

    def user(self, name: str) -> User:
        if getattr(self.backend, "run_trusted", None) is not None:  # /etc/passwd itself, not a `getent` inside
            try:
                text = self.backend.read_bytes("/etc/passwd", self.read_limit).decode("utf-8", "replace")
            except OSError:
                text = ""
            return parse_getent_passwd(name, text)
        res = self._tool("getent", "passwd", "--", name)
        return parse_getent_passwd(name, res.out if res.ok else "")

    def file(self, path: str) -> File:
        return File(self.backend, path, limit=self.read_limit)

    def processes(self, comm: str | None = None) -> list[Process]:
        """The machine's processes: from the kernel's own tables where the backend can read them (a
        `ps` replaced inside cannot hide or invent one), else from `ps`."""
        kernel = getattr(self.backend, "kernel_processes", None)
        if kernel is not None:
            names = self._user_names()
            found = [Process(pid, names.get(uid, str(uid)), name, args) for pid, uid, name, args in kernel()]
        else:
            found = parse_ps(self._tool("ps", "-eo", "pid,user:32,comm,args").out)
        return [p for p in found if comm is None or p.comm == comm]

    def _user_names(self) -> dict[int, str]:
        try:
            text = self.backend.read_bytes("/etc/passwd", self.read_limit).decode("utf-8", "replace")
        except OSError:
            return {}
        names = {}
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) > 2 and fields[2].isdigit():
                names.setdefault(int(fields[2]), fields[0])
        return names

    def listening(self, port: int | None = None, proto: str = "tcp") -> list[Socket]:
        """Sockets listening on `port` (all when None), as `ss` inside the machine sees them."""
        flag = {"tcp": "-ltnpH", "udp": "-lunpH"}.get(proto)
        if flag is None:
            raise ValueError(f"proto must be 'tcp' or 'udp', not {proto!r}")
        kernel = getattr(self.backend, "kernel_sockets", None)
        if kernel is not None:  # the kernel's own table of the machine's network: `ss` inside may lie
            sockets = [Socket(proto, address, number, programs) for address, number, programs in kernel(proto)]
        else:
            sockets = parse_ss(self._tool("ss", flag).out, proto)
        return [s for s in sockets if port is None or s.port == port]

    # -- Postfix probes ---------------------------------------------------------------------

    def _postconf(self, *args: str):
        """`postconf ARGS` on the machine's main.cf and master.cf. Where the backend has trusted tools,
        Postfix's own postconf from the image runs on copies of the two files (read without following
        links): a `postconf` replaced inside the machine cannot tell the grader what it wants to hear."""
        trusted = getattr(self.backend, "run_trusted", None)
        if trusted is None:
            return self.run("postconf", *args)  # a backend without trusted tools (unit tests' fakes)
        if self.backend.stat("/usr/sbin/postconf") is None:  # Postfix is not installed (or was removed)
            return ExecResult(argv=("postconf", *args), returncode=127, stdout=b"",
                              stderr=b"postconf: command not found", duration=0.0)
        files = self._postfix_config()
        argv = ["/usr/sbin/postconf", *args]
        # The files are read anew each time: an answer is reused only for the very same bytes.
        key = (tuple(argv), _digest(files))
        now = self._clock()
        known = self._answers.get(key)
        if known is not None and 0 <= now - known[0] < TRUSTED_REUSE:
            return known[1]
        done = trusted(argv, files, timeout=self._bound(self.timeout, argv))
        if done.returncode == 0:  # a failure (a timeout of a busy host) is never kept
            self._answers = {k: v for k, v in self._answers.items() if 0 <= now - v[0] < TRUSTED_REUSE}
            self._answers[key] = (now, done)
        return done

    def _postfix_config(self) -> dict[str, bytes]:
        """Copies of the machine's main.cf and master.cf, /etc/mailname (Debian's myorigin) and its users, read
        without following its links."""
        files = {}
        for path in ("/etc/postfix/main.cf", "/etc/postfix/master.cf", "/etc/mailname", "/etc/passwd", "/etc/group"):
            try:
                files[path] = self.backend.read_bytes(path, self.read_limit)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise Fail(_("{path} cannot be read: {error}", path=path, error=exc.strerror or str(exc))) from None
        return files

    def postconf(self, name: str, expand: bool = False) -> str | None:
        """A main.cf parameter's value; None when Postfix is missing or the name is unknown."""
        if not _PARAMETER.fullmatch(name):
            raise ValueError(f"not a Postfix parameter name: {name!r}")
        res = self._postconf("-xh" if expand else "-h", name)
        if res.returncode == 127:
            return None
        if not res.ok:
            raise Fail(_("`postconf -h {name}` failed: {error}", name=name, error=first_line(res.err) or res.returncode))
        if not res.out and "unknown parameter" in res.err:
            return None
        # Long values may be folded onto indented continuation lines.
        return _FOLDED.sub(" ", res.out.rstrip("\n"))

    def postconf_service(self, service: str, name: str) -> str | None:
        """What master.cf says for one service (`service` as "submission/inet"): an -o override
        (`name` a parameter) or a column (`name` one of type, private, unpriv, chroot, wakeup,
        process_limit, command); None when the service has none of it, or there is no such service."""
        if not _PARAMETER.fullmatch(name) or not _SERVICE.fullmatch(service):
            raise ValueError(f"not a master.cf service and name: {service!r} {name!r}")
        columns = ("type", "private", "unpriv", "chroot", "wakeup", "process_limit", "command")
        res = self._postconf("-Fh" if name in columns else "-Ph", f"{service}/{name}")
        if not res.ok or not res.out.strip():
            return None
        return _FOLDED.sub(" ", res.out.rstrip("\n"))

    def master_services(self) -> list[MasterService]:
        """Every service of master.cf (`postconf -M`, Postfix's own reading of it)."""
        res = self._postconf("-M")
        if res.returncode == 127:
            raise MissingCommand(("postconf", "-M"))
        if not res.ok:
            raise Fail(_("`postconf -M` failed: {error}", error=first_line(res.err) or res.returncode))
        return parse_postconf_m(res.out)

    def postconf_lint(self) -> PostconfLint:
        res = self._postconf("-n")
        if res.returncode == 127:
            raise MissingCommand(("postconf", "-n"))
        if not res.ok:
            raise Fail(_("`postconf -n` failed: {error}", error=first_line(res.err) or res.returncode))
        return parse_postconf_n(res.out, res.err)

    def postmap_query(self, key: str, table: str) -> str | None:
        """`postmap -q KEY TABLE`: the value, or None when the key is not in the table."""
        return self._query("postmap", key, table)

    def postalias_query(self, key: str, table: str = "hash:/etc/aliases") -> str | None:
        return self._query("postalias", key, table)

    def _query(self, command: str, key: str, table: str) -> str | None:
        res = self._trusted_query(command, key, table) or self._tool(command, "-q", key, table)
        if res.returncode == 1 and not res.err.strip():
            return None
        if not res.ok:
            raise Fail(_("`{command} -q {key} {table}` failed: {error}", command=command, key=key, table=table,
                         error=first_line(res.err)))
        return res.out.rstrip("\n")

    def _trusted_query(self, command: str, key: str, table: str) -> ExecResult | None:
        """`postmap -q` / `postalias -q` by Postfix's own program on a copy of the table's file (None:
        no trusted tools, or a table type without a file of its own, asked of the machine instead)."""
        trusted = getattr(self.backend, "run_trusted", None)
        kind, _sep, path = table.partition(":")
        suffix = FILE_TABLES.get(kind)
        if trusted is None or suffix is None or not path.startswith("/") or "\0" in path:
            return None
        if self.backend.stat(f"/usr/sbin/{command}") is None:
            return ExecResult(argv=(command,), returncode=127, stdout=b"", stderr=b"not installed", duration=0.0)
        files = self._postfix_config()
        for name in {path + suffix, path}:
            try:
                files[name] = self.backend.read_bytes(name, self.read_limit)
            except OSError:
                pass
        argv = [f"/usr/sbin/{command}", "-q", key, table]
        return trusted(argv, files, timeout=self._bound(self.timeout, argv))

    def queue(self) -> list[QueuedMessage]:
        """The messages in Postfix's queue. From the queue's own files where the backend reads a real
        machine (a `postqueue` replaced inside cannot hide or invent a message), else `postqueue -j`."""
        if getattr(self.backend, "run_trusted", None) is not None:
            return read_queue(self.backend)
        res = self._tool("postqueue", "-j")
        if not res.ok:
            raise Fail(_("`postqueue -j` failed: {error}", error=first_line(res.err) or res.returncode))
        return parse_postqueue_json(res.out)

    def maillog(self) -> MailLog:
        path = self.postconf("maillog_file", expand=True) or DEFAULT_MAILLOG
        return MailLog(self.backend, path, limit=self.read_limit)

    # -- names, as the machine resolves them ----------------------------------------------------

    # -- mailboxes --------------------------------------------------------------------------

    def mailbox(self, user: str) -> Mailbox:
        if not _USER_NAME.fullmatch(user):
            raise ValueError(f"not a user name: {user!r}")
        return Mailbox(self.backend, f"/var/mail/{user}", limit=self.read_limit)

    def maildir(self, path: str) -> Maildir:
        return Maildir(self.backend, path)

    # -- mail flow --------------------------------------------------------------------------

    def sendmail_bv(self, address: str, within: float = 5.0) -> Verification:
        """Ask Postfix whether `address` is deliverable (`sendmail -bv`), and read its answer."""
        _check_address(address)
        log = self.maillog()
        mark = log.mark()
        res = self._tool(SENDMAIL, "-f", "", "-bv", address)
        if not res.ok:
            raise Fail(_("`sendmail -bv {address}` failed: {error}", address=address,
                         error=first_line(res.err) or res.returncode))
        found, waited = self._poll(within, lambda: find_verification(log.lines(mark), address),
                                   lambda outcome: outcome is not None)
        return Verification(address, found, log.path, waited)

    def send_tagged(self, sender: str, recipients: Sequence[str] | str, *,
                    subject: str = "MailLab test message", body: str | None = None,
                    within: float = 10.0) -> Delivery:
        """Send a message with a unique Message-Id and follow it through the log (bounded)."""
        rcpts = [recipients] if isinstance(recipients, str) else list(recipients)
        if not rcpts:
            raise ValueError("send_tagged needs at least one recipient")
        for address in (sender, *rcpts):
            _check_address(address, allow_empty=address is sender)
        token = uuid.uuid4().hex
        message_id = f"maillab-{token}@{MESSAGE_ID_DOMAIN}"
        message = build_message(sender, rcpts, subject=subject, message_id=message_id, tag=token,
                                body=body)
        log = self.maillog()
        mark = log.mark()
        res = self._tool(SENDMAIL, "-i", "-f", sender, *rcpts, input=message)
        if not res.ok:
            raise Fail(_("sendmail refused the message (exit status {code}): {error}", code=res.returncode,
                         error=first_line(res.err)))
        delivery, waited = self._poll(within, lambda: log.follow(message_id, rcpts, since=mark),
                                      lambda d: d.complete)
        delivery.tag = token
        delivery.waited = waited
        return delivery

    def settle(self, delivery: Delivery, within: float = 5.0) -> Delivery:
        """`delivery` read again once Postfix removed its queue files: a message to several
        recipients (a list alias) is complete with its first status line, the others follow."""
        log = self.maillog()

        def removed(found: Delivery) -> bool:
            return bool(found.queue_ids) and all(
                any(line.endswith(f" {qid}: removed") for line in found.lines) for qid in found.queue_ids)

        found, waited = self._poll(within, lambda: log.follow(delivery.message_id, list(delivery.recipients)),
                                   removed)
        found.tag, found.waited = delivery.tag, delivery.waited + waited
        return found


def _digest(files: dict[str, bytes]) -> bytes:
    """One fingerprint of copies of files (paths and bytes): what a reused answer was computed from."""
    digest = hashlib.sha256()
    for path, data in sorted(files.items()):
        digest.update(b"%d:%s\0%d:" % (len(path), path.encode("utf-8", "surrogateescape"), len(data)))
        digest.update(data)
    return digest.digest()


def _check_address(address: str, *, allow_empty: bool = False) -> None:
    # An address starting with "-" would be read by sendmail as an option.
    if (not address and not allow_empty) or address.startswith("-") \
            or any(c in address for c in "\r\n\0"):
        raise ValueError(f"not a usable mail address: {address!r}")


def build_message(sender: str, recipients: Sequence[str], *, subject: str, message_id: str,
                  tag: str, body: str | None = None) -> bytes:
    if any(c in subject for c in "\r\n"):
        raise ValueError("a subject is one line")
    text = body if body is not None else (
        "This message was sent by the MailLab grader to check a step.\n"
        f"Tag: {tag}\n")
    headers = [
        f"From: {sender or 'MAILER-DAEMON'}",
        f"To: {', '.join(recipients)}",
        f"Subject: {subject}",
        f"Date: {formatdate(usegmt=True)}",
        f"Message-Id: <{message_id}>",
        f"X-MailLab-Tag: {tag}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    return ("\n".join(headers) + "\n\n" + text).encode("utf-8")
