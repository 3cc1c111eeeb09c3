"""Where a remote mail server keeps what it accepted: per message, its exact bytes (`QUEUEID.eml`)
and what the server knows of it (`QUEUEID.json`: envelope, headers, client, transcript).

The server writes each file whole (a temporary file, then a rename), the bytes before the JSON, so a
reader that finds the JSON finds the message; it still skips any file it cannot read, never failing
on one. What a learner's machine can make the host store is bounded: a message at most
SIZE_LIMIT bytes (the server answers 552 above it), the spool at most SPOOL_BYTES and
SPOOL_MESSAGES (then 452, try again later). What the grader reads back is bounded too: the newest
READ_MESSAGES messages, each JSON at most META_LIMIT bytes and each message's first RAW_LIMIT bytes.
"""
from __future__ import annotations

import base64
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

_QUEUE_ID = re.compile(r"[0-9A-Za-z]{1,40}")
SIZE_LIMIT = 10 * 1024 * 1024     # bytes of one message, like Postfix's message_size_limit
SPOOL_BYTES = 64 * 1024 * 1024    # all stored messages of one server
SPOOL_MESSAGES = 500
READ_MESSAGES = 200               # the grader looks at the newest ones only
META_LIMIT = 512 * 1024           # one message's JSON, as read back
RAW_LIMIT = 1024 * 1024           # the part of a message read back (headers and a body to match)
TRANSCRIPT_LINES = 2000           # capture mode: lines kept per session


@dataclass(frozen=True)
class Received:
    """One message a remote mail server accepted, as the sending side handed it over."""
    queue_id: str
    server: str
    received: str                   # UTC, ISO 8601, microseconds
    client_address: str
    client_port: int
    helo: str | None                # the name the client gave in HELO/EHLO
    mail_from: str                  # "" for the null sender (bounces)
    mail_options: list[str]         # MAIL FROM parameters, e.g. ["SIZE=312", "BODY=8BITMIME"]
    rcpt_tos: list[str]
    raw: str                        # the message as text (bytes that are not UTF-8 shown as U+FFFD; see data)
    headers: list[tuple[str, str]]  # in order, unfolded, duplicates kept
    message_id: str | None          # without the angle brackets
    size: int                       # bytes
    transcript: list[tuple[str, str]] | None = None  # capture mode: ("client"|"server", line with its line end)
    raw_base64: str | None = None   # only when the message is not UTF-8: its exact bytes
    path: Path | None = field(default=None, compare=False)
    truncated: bool = False         # raw holds only the first RAW_LIMIT bytes of `size`

    @property
    def data(self) -> bytes:
        """The message's exact bytes."""
        return base64.b64decode(self.raw_base64) if self.raw_base64 is not None else self.raw.encode("utf-8")

    def header(self, name: str) -> str | None:
        """The first header of that name (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @property
    def subject(self) -> str | None:
        return self.header("Subject")

    @property
    def body(self) -> str:
        _, sep, body = self.raw.replace("\r\n", "\n").partition("\n\n")
        return body if sep else ""


def record(*, queue_id: str, server: str, received: str, client: tuple, helo: str | None, mail_from: str,
           mail_options: Iterable[str], rcpt_tos: Iterable[str], data: bytes,
           transcript: list[tuple[str, str]] | None = None) -> dict:
    """What is stored for one accepted message beside its bytes (the JSON object of its file)."""
    headers = parse_headers(data[:RAW_LIMIT].decode("utf-8", "replace"))
    message_id = next((v for k, v in headers if k.lower() == "message-id"), None)
    return {
        "queue_id": queue_id, "server": server, "received": received,
        "client_address": str(client[0]), "client_port": int(client[1]), "helo": helo,
        "mail_from": "" if mail_from == "<>" else mail_from, "mail_options": list(mail_options),
        "rcpt_tos": list(rcpt_tos), "headers": headers,
        "message_id": normalise_message_id(message_id) if message_id else None, "size": len(data),
        "transcript": transcript[-TRANSCRIPT_LINES:] if transcript is not None else None,
    }


def store(spool: Path, entry: dict, data: bytes) -> Path:
    """Write one message's bytes, then its JSON, each atomically; returns the JSON's path."""
    queue_id = entry["queue_id"]
    _write_atomically(spool / f"{queue_id}.eml", spool / f".{queue_id}.eml.tmp", data)
    return _write_atomically(spool / f"{queue_id}.json", spool / f".{queue_id}.tmp",
                             json.dumps(entry, ensure_ascii=False).encode("utf-8"))


def _write_atomically(final: Path, temporary: Path, data: bytes) -> Path:
    try:
        with open(temporary, "wb") as out:
            out.write(data)
        os.replace(temporary, final)
    except BaseException:
        try:
            temporary.unlink()
        except OSError:
            pass
        raise
    return final


def has_room(spool: Path, size: int) -> bool:
    """Whether `size` more bytes (one more message) fit the spool's caps."""
    used, count = 0, 0
    try:
        with os.scandir(spool) as entries:
            for entry in entries:
                try:
                    used += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
                count += entry.name.endswith(".json")
    except OSError:
        return True  # nothing to measure: the write itself will say (451)
    return count < SPOOL_MESSAGES and used + size <= SPOOL_BYTES


def parse_headers(raw: str) -> list[tuple[str, str]]:
    """The header block's fields, unfolded; it ends at the first empty line or a line that is no header."""
    headers: list[tuple[str, str]] = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        if not line:
            break
        if line[0] in " \t":
            if not headers:
                break
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}".strip())
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or any(c in name for c in " \t"):
            break
        headers.append((name, value.strip()))
    return headers


def normalise_message_id(value: str) -> str:
    return value.strip().strip("<>").strip()


# -- reading (the grader's side) --------------------------------------------------------------
def messages(spool: str | Path) -> list[Received]:
    """The newest READ_MESSAGES messages in the spool, oldest first. Files that are unreadable,
    half-written or over their bound are skipped."""
    folder = Path(spool)
    try:
        with os.scandir(folder) as entries:
            names = []
            for entry in entries:
                if entry.name.endswith(".json") and not entry.name.startswith("."):
                    try:
                        names.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.name))
                    except OSError:
                        continue
    except OSError:
        return []
    newest = sorted(names)[-READ_MESSAGES:]
    found = [m for m in (_read(folder / name) for _, name in newest) if m is not None]
    found.sort(key=lambda m: (m.received, m.queue_id))
    return found


def find(spool: str | Path, *, queue_id: str | None = None, message_id: str | None = None) -> Received | None:
    """The message with that queue id and/or Message-Id (with or without <>), or None."""
    if queue_id is None and message_id is None:
        raise TypeError("find() needs queue_id= or message_id= (or both).")
    if queue_id is not None:
        if not _QUEUE_ID.fullmatch(queue_id):
            return None
        candidates = [m for m in [_read(Path(spool) / f"{queue_id}.json")] if m is not None]
    else:
        candidates = messages(spool)
    wanted = normalise_message_id(message_id) if message_id is not None else None
    for message in candidates:
        if wanted is None or message.message_id == wanted:
            return message
    return None


def _read_bounded(path: Path, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of a regular file (never following a link), and whether there was more."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return data[:limit], len(data) > limit


def _read(path: Path) -> Received | None:
    try:
        meta, too_big = _read_bounded(path, META_LIMIT)
        if too_big:
            return None
        entry = json.loads(meta.decode("utf-8"))
        if "raw" in entry:  # a spool written before the bytes had a file of their own
            data, truncated = _str(entry["raw"]).encode("utf-8"), False
            if entry.get("raw_base64") is not None:
                data = base64.b64decode(_str(entry["raw_base64"]))
        else:
            data, truncated = _read_bounded(path.with_suffix(".eml"), RAW_LIMIT)
        try:
            raw, raw_base64 = data.decode("utf-8"), None
        except UnicodeDecodeError:
            raw, raw_base64 = data.decode("utf-8", "replace"), base64.b64encode(data).decode("ascii")
        transcript = entry.get("transcript")
        message = Received(
            queue_id=_str(entry["queue_id"]), server=_str(entry["server"]), received=_str(entry["received"]),
            client_address=_str(entry["client_address"]), client_port=_int(entry["client_port"]),
            helo=_optional_str(entry.get("helo")), mail_from=_str(entry["mail_from"]),
            mail_options=[_str(x) for x in entry["mail_options"]], rcpt_tos=[_str(x) for x in entry["rcpt_tos"]],
            raw=raw, headers=[(_str(k), _str(v)) for k, v in entry["headers"]],
            message_id=_optional_str(entry.get("message_id")), size=_int(entry["size"]),
            transcript=None if transcript is None else [(_str(s), _str(line)) for s, line in transcript],
            raw_base64=raw_base64, path=path, truncated=truncated,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # a corrupt or foreign file is not a message
    return message


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, found {type(value).__name__}")
    return value


def _optional_str(value: object) -> str | None:
    return None if value is None else _str(value)


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected a number, found {type(value).__name__}")
    return value
