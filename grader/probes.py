"""What the Host's probes return, and how each is read from a command's output.

Parsers are plain functions of text, so they are tested without any machine.
"""
from __future__ import annotations

import json
import logging
import re
import stat as stat_module
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Sequence

from .check import Fail
from .i18n import _
from .machinefiles import read_file

if TYPE_CHECKING:
    import os

    from .host import Backend

log = logging.getLogger(__name__)

# Which package brings a command, so "command not found" can say what to install.
PACKAGE_OF_COMMAND = {
    "postconf": "postfix", "postmap": "postfix", "postalias": "postfix", "postqueue": "postfix",
    "postsuper": "postfix", "postfix": "postfix", "sendmail": "postfix", "newaliases": "postfix",
    "mailq": "postfix", "doveadm": "dovecot-core", "doveconf": "dovecot-core",
    "ss": "iproute2", "ps": "procps", "dpkg-query": "dpkg", "getent": "libc-bin",
}
_PRETTY = {"postfix": "Postfix", "dovecot-core": "Dovecot"}


class MissingCommand(Fail):
    """A command the probe needs is not on the machine (exit status 127)."""

    def __init__(self, argv: Sequence[str]) -> None:
        command = argv[0]
        package = PACKAGE_OF_COMMAND.get(command.rsplit("/", 1)[-1])
        if package:
            detail = _("{command}: command not found (is {package} installed?)", command=command,
                       package=_PRETTY.get(package, package))
            hint = _("Install it with `apt-get install {package}`, then check again.", package=package)
        else:
            detail = _("{command}: command not found", command=command)
            hint = None
        super().__init__(detail, hint)
        self.argv = list(argv)


_NUMBER = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes "²", which int() refuses


def _number(text: str) -> int | None:
    return int(text) if _NUMBER.fullmatch(text) else None


def first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""


@dataclass(frozen=True)
class Package:
    name: str
    installed: bool
    status: str            # dpkg's words, e.g. "install ok installed" or why it is unknown
    version: str | None

    def __bool__(self) -> bool:
        return self.installed


def parse_dpkg_query(name: str, returncode: int, stdout: str, stderr: str) -> Package:
    """Parse `dpkg-query -W -f '${Status}\\t${Version}\\n' NAME`."""
    rows = [line.split("\t", 1) for line in stdout.splitlines() if line.strip()]
    for row in rows:
        status, version = row[0].strip(), (row[1].strip() if len(row) > 1 else "")
        if status.split()[-1:] == ["installed"]:
            return Package(name, True, status, version or None)
    if rows:
        status, version = rows[0][0].strip(), (rows[0][1].strip() if len(rows[0]) > 1 else "")
        return Package(name, False, status, version or None)
    said = first_line(stderr) or _("dpkg-query exited with status {code} and said nothing", code=returncode)
    return Package(name, False, said, None)


@dataclass(frozen=True)
class User:
    name: str
    exists: bool
    uid: int | None = None
    gid: int | None = None
    gecos: str = ""
    home: str | None = None
    shell: str | None = None

    def __bool__(self) -> bool:
        return self.exists


def parse_getent_passwd(name: str, stdout: str) -> User:
    for line in stdout.splitlines():
        fields = line.split(":")
        if len(fields) == 7 and fields[0] == name:
            uid, gid = _number(fields[2]), _number(fields[3])
            if uid is not None and gid is not None:
                return User(name, True, uid, gid, fields[4], fields[5], fields[6])
    return User(name, False)


@dataclass(frozen=True)
class Process:
    pid: int
    user: str
    comm: str
    args: str


def parse_ps(stdout: str) -> list[Process]:
    """Parse `ps -eo pid,user,comm,args` (header line included or not)."""
    found = []
    for line in stdout.splitlines():
        fields = line.split(None, 3)
        pid = _number(fields[0]) if len(fields) >= 3 else None
        if pid is None:
            continue
        found.append(Process(pid, fields[1], fields[2],
                             fields[3] if len(fields) > 3 else fields[2]))
    return found


@dataclass(frozen=True)
class Socket:
    proto: str
    address: str
    port: int
    programs: tuple[str, ...] = ()

    def describe(self) -> str:
        who = f" ({', '.join(self.programs)})" if self.programs else ""
        return f"{self.proto} {self.address}:{self.port}{who}"


_SS_PROGRAM = re.compile(r'\("([^"]+)",pid=\d+')


def parse_ss(stdout: str, proto: str) -> list[Socket]:
    """Parse `ss -l{t,u}npH`: State Recv-Q Send-Q Local:Port Peer:Port [users:(...)]."""
    found = []
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        address, _, text = fields[3].rpartition(":")
        port = _number(text)
        if port is None:
            continue
        programs = tuple(dict.fromkeys(_SS_PROGRAM.findall(line)))
        found.append(Socket(proto, address.strip("[]"), port, programs))
    return found


@dataclass(frozen=True)
class PostconfWarning:
    kind: str            # "override", "unused" or "other"
    parameter: str | None
    text: str


@dataclass(frozen=True)
class PostconfLint:
    settings: dict[str, str]          # `postconf -n`: parameters that differ from the default
    warnings: tuple[PostconfWarning, ...]

    @property
    def overrides(self) -> list[PostconfWarning]:
        return [w for w in self.warnings if w.kind == "override"]

    @property
    def unused(self) -> list[PostconfWarning]:
        return [w for w in self.warnings if w.kind == "unused"]

    @property
    def clean(self) -> bool:
        return not self.warnings

    def describe(self) -> str:
        if self.clean:
            return _("postconf -n gives no warnings")
        return "; ".join(w.text for w in self.warnings)


_OVERRIDE = re.compile(r"overriding earlier entry: (?P<param>[\w.-]+)=")
_UNUSED = re.compile(r"unused parameter: (?P<param>[\w.-]+)=")


@dataclass(frozen=True)
class MasterService:
    """One service of master.cf as `postconf -M` prints it."""
    name: str            # e.g. "smtp", "192.0.2.10:smtp", "submission"
    type: str            # inet, unix, pass, ...
    command: str         # smtpd, postscreen, ...
    line: str            # the whole entry on one line

    @property
    def port(self) -> str:
        """The port (or socket name) part of the service name: "smtp" for "192.0.2.10:smtp"."""
        return self.name.rpartition(":")[2]


def parse_postconf_m(stdout: str) -> list[MasterService]:
    """`postconf -M` output; continuation lines (indented) belong to the entry above."""
    entries: list[str] = []
    for line in stdout.splitlines():
        if line[:1].isspace() and entries:
            entries[-1] += " " + line.strip()
        elif line.strip() and not line.lstrip().startswith("#"):
            entries.append(line.strip())
    services = []
    for entry in entries:
        fields = entry.split()
        if len(fields) >= 8:
            services.append(MasterService(fields[0], fields[1], fields[7], " ".join(fields)))
    return services


def parse_postconf_n(stdout: str, stderr: str) -> PostconfLint:
    settings = {}
    for line in stdout.splitlines():
        name, sep, value = line.partition(" = ")
        if sep:
            settings[name.strip()] = value.strip()
    warnings = []
    for line in stderr.splitlines():
        line = line.strip()
        if not line:
            continue
        text = re.sub(r"^postconf: warning: ", "", line)
        if match := _OVERRIDE.search(line):
            warnings.append(PostconfWarning("override", match["param"], text))
        elif match := _UNUSED.search(line):
            warnings.append(PostconfWarning("unused", match["param"], text))
        else:
            warnings.append(PostconfWarning("other", None, text))
    return PostconfLint(settings, tuple(warnings))


@dataclass(frozen=True)
class QueuedRecipient:
    address: str
    delay_reason: str | None


@dataclass(frozen=True)
class QueuedMessage:
    queue_id: str
    queue_name: str          # "active", "deferred", "hold", "incoming", "maildrop"
    sender: str
    recipients: tuple[QueuedRecipient, ...]
    arrival_time: int | None = None
    message_size: int | None = None

    def describe(self) -> str:
        rcpts = ", ".join(r.address + (f" ({r.delay_reason})" if r.delay_reason else "")
                          for r in self.recipients)
        return _("{queue_id} in {queue} from <{sender}> to {rcpts}", queue_id=self.queue_id, queue=self.queue_name,
                 sender=self.sender, rcpts=rcpts)


def parse_postqueue_json(stdout: str) -> list[QueuedMessage]:
    found = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            log.warning("postqueue -j printed a line that is not JSON: %r", line[:200])
            continue
        if not isinstance(obj, dict):
            log.warning("postqueue -j printed JSON that is not a message: %r", line[:200])
            continue
        listed = obj.get("recipients")
        recipients = tuple(
            QueuedRecipient(str(r.get("address", "")), _text_or_none(r.get("delay_reason")))
            for r in (listed if isinstance(listed, list) else []) if isinstance(r, dict))
        found.append(QueuedMessage(str(obj.get("queue_id", "")), str(obj.get("queue_name", "")),
                                   str(obj.get("sender", "")), recipients,
                                   _int_or_none(obj.get("arrival_time")),
                                   _int_or_none(obj.get("message_size"))))
    return found


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class File:
    """A file on the machine, as it is when the probe is made (the content read on demand)."""

    def __init__(self, backend: "Backend", path: str, *, limit: int) -> None:
        self.backend = backend
        self.path = path
        self.limit = limit
        self._stat: "os.stat_result | None" = backend.stat(path)

    @property
    def exists(self) -> bool:
        return self._stat is not None

    @property
    def is_file(self) -> bool:
        return self._stat is not None and stat_module.S_ISREG(self._stat.st_mode)

    @property
    def is_dir(self) -> bool:
        return self._stat is not None and stat_module.S_ISDIR(self._stat.st_mode)

    @property
    def is_socket(self) -> bool:
        return self._stat is not None and stat_module.S_ISSOCK(self._stat.st_mode)

    @property
    def size(self) -> int | None:
        return self._stat.st_size if self._stat else None

    @property
    def mtime(self) -> float | None:
        return self._stat.st_mtime if self._stat else None

    @property
    def mode(self) -> int | None:
        return stat_module.S_IMODE(self._stat.st_mode) if self._stat else None

    @property
    def uid(self) -> int | None:
        return self._stat.st_uid if self._stat else None

    @property
    def gid(self) -> int | None:
        return self._stat.st_gid if self._stat else None

    @cached_property
    def content(self) -> bytes:
        if not self.is_file:
            return b""
        return read_file(self.backend, self.path, self.limit) or b""

    @property
    def truncated(self) -> bool:
        return self.size is not None and self.size > self.limit

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def newer_than(self, other: "File") -> bool:
        return self.mtime is not None and (other.mtime is None or self.mtime > other.mtime)

    def describe(self) -> str:
        if not self.exists:
            return _("{path} does not exist", path=self.path)
        mode = f"{self.mode:04o}"
        if self.is_file:
            return _("{path} is a file of {size} bytes, mode {mode}", path=self.path, size=self.size, mode=mode)
        if self.is_dir:
            return _("{path} is a directory of {size} bytes, mode {mode}", path=self.path, size=self.size, mode=mode)
        return _("{path} is a special file of {size} bytes, mode {mode}", path=self.path, size=self.size, mode=mode)
