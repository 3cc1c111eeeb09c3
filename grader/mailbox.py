"""Reading delivered mail on a machine: mbox files (/var/mail/USER) and Maildir folders."""
from __future__ import annotations

import email.parser
import email.policy
import posixpath
import re
from dataclasses import dataclass
from email.message import Message
from functools import cached_property
from typing import TYPE_CHECKING

from .i18n import _
from .machinefiles import UnreadableFile, read_file

if TYPE_CHECKING:
    from .host import Backend

MBOX_READ_LIMIT = 4 * 1024 * 1024
MESSAGE_READ_LIMIT = 1024 * 1024
MAILDIR_MAX_MESSAGES = 2000
# All the messages read from one Maildir together (the newest first): a Maildir full of big
# messages must not fill the grader's memory.
MAILDIR_READ_BUDGET = 32 * 1024 * 1024

# "From sender  Mon Nov 30 05:40:01 2026": the date makes a stray unquoted "From " in a body
# much less likely to be taken for the start of a message.
_FROM_LINE = re.compile(rb"From \S+ +[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d\d:\d\d")
_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def normalise_message_id(value: str) -> str:
    return value.strip().strip("<>").strip()


@dataclass(frozen=True)
class MailMessage:
    """One delivered message. `source` says where it was found, for details shown to learners."""
    source: str
    raw: bytes

    @cached_property
    def headers(self) -> Message:
        return _HEADER_PARSER.parsebytes(self.raw)

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else str(value)

    @property
    def message_id(self) -> str | None:
        value = self.header("Message-Id")
        return normalise_message_id(value) if value else None

    @property
    def subject(self) -> str | None:
        return self.header("Subject")

    @property
    def tag(self) -> str | None:
        return self.header("X-MailLab-Tag")

    @property
    def body(self) -> str:
        _, sep, body = self.raw.replace(b"\r\n", b"\n").partition(b"\n\n")
        return body.decode("utf-8", "replace") if sep else ""


class _Folder:
    kind = "mailbox"

    def __init__(self, backend: "Backend", path: str) -> None:
        self.backend = backend
        self.path = path

    def messages(self) -> list[MailMessage]:
        raise NotImplementedError

    def find(self, message_id: str) -> MailMessage | None:
        wanted = normalise_message_id(message_id)
        for message in self.messages():
            if message.message_id == wanted:
                return message
        return None

    def find_tag(self, tag: str) -> MailMessage | None:
        for message in self.messages():
            if message.tag == tag:
                return message
        return None

    def __contains__(self, message_id: str) -> bool:
        return self.find(message_id) is not None

    def __len__(self) -> int:
        return len(self.messages())

    def describe(self) -> str:
        if not self.exists:
            return _("{path} does not exist", path=self.path)
        count = len(self)
        if count == 1:
            return _("{kind} {path} holds {count} message", kind=self.kind, path=self.path, count=count)
        return _("{kind} {path} holds {count} messages", kind=self.kind, path=self.path, count=count)

    @property
    def exists(self) -> bool:
        raise NotImplementedError


class Mailbox(_Folder):
    """An mbox file, as Postfix's local(8) writes it: "From " lines start messages."""
    kind = "mbox"

    def __init__(self, backend: "Backend", path: str, *, limit: int = MBOX_READ_LIMIT) -> None:
        super().__init__(backend, path)
        self.limit = limit

    @property
    def exists(self) -> bool:
        st = self.backend.stat(self.path)
        return st is not None

    def messages(self) -> list[MailMessage]:
        st = self.backend.stat(self.path)
        if st is None:
            return []
        # New mail is appended: when the file is too big, the tail holds what a check looks for.
        offset = max(0, st.st_size - self.limit)
        data = read_file(self.backend, self.path, self.limit, offset=offset)
        if data is None:
            return []
        return [MailMessage(_("{path} (message {number})", path=self.path, number=n), raw)
                for n, raw in enumerate(split_mbox(data, partial_start=offset > 0), start=1)]


def split_mbox(data: bytes, *, partial_start: bool = False) -> list[bytes]:
    """Split mbox bytes into messages (without their "From " separator lines)."""
    messages: list[bytes] = []
    current: list[bytes] | None = None
    previous_blank = not partial_start
    for line in data.splitlines(keepends=True):
        if previous_blank and _FROM_LINE.match(line):
            if current is not None:
                messages.append(_strip_separator(current))
            current = []
        elif current is not None:
            current.append(line)
        previous_blank = line in (b"\n", b"\r\n")
    if current is not None:
        messages.append(_strip_separator(current))
    return messages


def _strip_separator(lines: list[bytes]) -> bytes:
    # local(8) ends every message with an empty line that belongs to the mbox, not the message.
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines = lines[:-1]
    return b"".join(lines)


class Maildir(_Folder):
    """A Maildir: delivered messages are files in new/ (unseen) and cur/ (seen)."""
    kind = "Maildir"

    def __init__(self, backend: "Backend", path: str, *, limit: int = MESSAGE_READ_LIMIT,
                 max_messages: int = MAILDIR_MAX_MESSAGES,
                 budget: int = MAILDIR_READ_BUDGET) -> None:
        super().__init__(backend, path.rstrip("/") or "/")
        self.limit = limit
        self.max_messages = max_messages
        self.budget = budget

    @property
    def exists(self) -> bool:
        return all(self.backend.stat(posixpath.join(self.path, sub)) is not None
                   for sub in ("new", "cur"))

    def _names(self, sub: str) -> list[str]:
        try:
            names = self.backend.listdir(posixpath.join(self.path, sub))
        except OSError:  # missing, not a directory, a symlink loop: no messages there
            return []
        return sorted(n for n in names if not n.startswith("."))

    def messages(self) -> list[MailMessage]:
        paths = [posixpath.join(self.path, sub, name)
                 for sub in ("new", "cur") for name in self._names(sub)]
        # Maildir names start with the delivery time; the newest matter most to a check.
        paths.sort(key=posixpath.basename)
        found: list[MailMessage] = []
        left = self.budget
        for path in reversed(paths[-self.max_messages:]):
            if left <= 0:
                break
            try:
                raw = read_file(self.backend, path, min(self.limit, left))
            except UnreadableFile:
                continue  # a directory or FIFO among the messages is no message
            if raw is None:
                continue  # moved from new/ to cur/ by a mail client while we listed
            left -= len(raw)
            found.append(MailMessage(path, raw))
        found.reverse()
        return found
