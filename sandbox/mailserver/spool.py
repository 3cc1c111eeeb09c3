"""Where a remote mail server keeps what it accepted: per message, its exact bytes (`QUEUEID.eml`)
and what the server knows of it (`QUEUEID.json`: envelope, headers, client, transcript).

The server writes each file whole (a temporary file, then a rename), the bytes before the JSON, so a
reader that finds the JSON finds the message; it still skips any file it cannot read, never failing
on one. What a learner's machine can make the host store is bounded: a message at most
SIZE_LIMIT bytes (the server answers 552 above it), its JSON at most META_LIMIT bytes, the spool
at most SPOOL_BYTES and SPOOL_MESSAGES (then 452, try again later); the server's settings may lower
or raise these within bounds (config.py). What the grader reads back is bounded on its own, whatever
the folder holds: the newest READ_MESSAGES messages, each JSON at most META_LIMIT bytes, each
message's first RAW_LIMIT bytes, and for one look at the whole spool META_BUDGET bytes of JSON and
READ_BUDGET bytes of text in all (what Python makes of them stays a small multiple of that).
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
META_LIMIT = 512 * 1024           # one message's JSON, as written and as read back
RAW_LIMIT = 1024 * 1024           # the part of a message read back (headers and a body to match)
META_BUDGET = 4 * 1024 * 1024     # JSON bytes read by one messages() call, newest first
READ_BUDGET = 16 * 1024 * 1024    # message bytes read by one messages() call, newest first
HEADER_BYTES = 100 * 1024         # the header block parsed into the JSON (Postfix's header_size_limit)
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
    # verify mode: {"spf": {"result": ..., ...}, "dkim": {...}, "dmarc": {...}}, each value text
    verdicts: dict[str, dict[str, str]] | None = None

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
           transcript: list[tuple[str, str]] | None = None,
           verdicts: dict[str, dict[str, str]] | None = None) -> dict:
    """What is stored for one accepted message beside its bytes (the JSON object of its file)."""
    headers = parse_headers(data[:HEADER_BYTES].decode("utf-8", "replace"))
    message_id = next((v for k, v in headers if k.lower() == "message-id"), None)
    entry = {
        "queue_id": queue_id, "server": server, "received": received,
        "client_address": str(client[0]), "client_port": int(client[1]), "helo": helo,
        "mail_from": "" if mail_from == "<>" else mail_from, "mail_options": list(mail_options),
        "rcpt_tos": list(rcpt_tos), "headers": headers,
        "message_id": normalise_message_id(message_id) if message_id else None, "size": len(data),
        "transcript": transcript[-TRANSCRIPT_LINES:] if transcript is not None else None,
    }
    if verdicts is not None:
        entry["verdicts"] = verdicts
    return entry


def store(spool: Path, entry: dict, data: bytes) -> Path:
    """Write one message's bytes, then its JSON, each atomically; returns the JSON's path."""
    queue_id = entry["queue_id"]
    meta = _fitting(entry)
    _write_atomically(spool / f"{queue_id}.eml", spool / f".{queue_id}.eml.tmp", data)
    return _write_atomically(spool / f"{queue_id}.json", spool / f".{queue_id}.tmp", meta)


def _fitting(entry: dict) -> bytes:
    """The JSON of an entry, never over META_LIMIT (the reader skips bigger ones): a huge transcript
    or header block (escaped control characters take six bytes each) loses its oldest lines, then its
    last headers, until it fits."""
    entry = dict(entry)
    while True:
        meta = json.dumps(entry, ensure_ascii=False).encode("utf-8")
        if len(meta) <= META_LIMIT:
            return meta
        if entry.get("transcript"):
            entry["transcript"] = entry["transcript"][len(entry["transcript"]) // 2 + 1:]
        elif entry.get("headers"):
            entry["headers"] = entry["headers"][:len(entry["headers"]) // 2]
        else:
            raise OSError("the message's record does not fit its bound")  # cannot happen: the rest is small


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


def has_room(spool: Path, size: int, *, max_bytes: int = SPOOL_BYTES, max_messages: int = SPOOL_MESSAGES) -> bool:
    """Whether `size` more bytes (one more message) fit the spool's caps. The server asks before
    MAIL (with the SIZE the client declared) and again before it stores the data; both run in its one
    event loop with no await between the question and the write, so two sessions cannot both take
    the last room."""
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
    return count < max_messages and used + size <= max_bytes


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
    half-written or over their bound are skipped. The reading is newest first within two budgets:
    once READ_BUDGET is spent, older messages keep their envelope and headers but carry less of their
    text (`truncated`); once META_BUDGET is spent, older messages are left out."""
    folder = Path(spool)
    meta_budget, budget = META_BUDGET, READ_BUDGET
    found = []
    for name in _newest(folder):
        if meta_budget <= 0:
            break
        path = folder / name
        entry, used = _meta(path, min(META_LIMIT, meta_budget))
        meta_budget -= used
        if entry is None:
            continue
        message, used = _message(path, entry, min(RAW_LIMIT, budget))
        budget -= used
        if message is not None:
            found.append(message)
    found.sort(key=lambda m: (m.received, m.queue_id))
    return found


def find(spool: str | Path, *, queue_id: str | None = None, message_id: str | None = None) -> Received | None:
    """The message with that queue id and/or Message-Id (with or without <>), or None. By Message-Id
    it looks at the newest READ_MESSAGES messages' JSON one at a time and reads only the match's text."""
    if queue_id is None and message_id is None:
        raise TypeError("find() needs queue_id= or message_id= (or both).")
    wanted = normalise_message_id(message_id) if message_id is not None else None
    if queue_id is not None:
        if not _QUEUE_ID.fullmatch(queue_id):
            return None
        names = [f"{queue_id}.json"]
    else:
        names = _newest(Path(spool))
    for name in names:
        path = Path(spool) / name
        entry, _ = _meta(path, META_LIMIT)
        if entry is None or (wanted is not None and entry.get("message_id") != wanted):
            continue
        message, _ = _message(path, entry, RAW_LIMIT)
        if message is not None:
            return message
    return None


def _newest(folder: Path) -> list[str]:
    """The names of the newest READ_MESSAGES JSON files, newest first (a folder of any size is listed
    once; only name and time are kept per entry)."""
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
    names.sort(reverse=True)
    return [name for _, name in names[:READ_MESSAGES]]


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


def _meta(path: Path, limit: int) -> tuple[dict | None, int]:
    """A message's JSON as a dict (None if unreadable, foreign or over `limit`), and the bytes read."""
    try:
        meta, too_big = _read_bounded(path, limit)
    except OSError:
        return None, 0
    if too_big:
        return None, len(meta)
    try:
        entry = json.loads(meta.decode("utf-8"))
    except ValueError:
        return None, len(meta)
    return (entry if isinstance(entry, dict) else None), len(meta)


def _message(path: Path, entry: dict, raw_limit: int) -> tuple[Received | None, int]:
    """The message of a JSON entry with at most `raw_limit` bytes of its text, and the bytes read."""
    used = 0
    try:
        if "raw" in entry:  # a spool written before the bytes had a file of their own
            data, truncated = _str(entry["raw"]).encode("utf-8"), False
            if entry.get("raw_base64") is not None:
                data = base64.b64decode(_str(entry["raw_base64"]))
        else:
            data, truncated = _read_bounded(path.with_suffix(".eml"), raw_limit)
            used = len(data)
        try:
            raw, raw_base64 = data.decode("utf-8"), None
        except UnicodeDecodeError:
            raw, raw_base64 = data.decode("utf-8", "replace"), base64.b64encode(data).decode("ascii")
        del data
        transcript = entry.get("transcript")
        message = Received(
            queue_id=_str(entry["queue_id"]), server=_str(entry["server"]), received=_str(entry["received"]),
            client_address=_str(entry["client_address"]), client_port=_int(entry["client_port"]),
            helo=_optional_str(entry.get("helo")), mail_from=_str(entry["mail_from"]),
            mail_options=[_str(x) for x in entry["mail_options"]], rcpt_tos=[_str(x) for x in entry["rcpt_tos"]],
            raw=raw, headers=[(_str(k), _str(v)) for k, v in entry["headers"]],
            message_id=_optional_str(entry.get("message_id")), size=_int(entry["size"]),
            transcript=None if transcript is None else [(_str(s), _str(line)) for s, line in transcript],
            raw_base64=raw_base64, path=path, truncated=truncated, verdicts=_verdicts(entry.get("verdicts")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, used  # a corrupt or foreign file is not a message
    return message, used


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, found {type(value).__name__}")
    return value


def _verdicts(value: object) -> dict[str, dict[str, str]] | None:
    """Verify mode's verdicts as far as they have the expected form (anything else is left out)."""
    if not isinstance(value, dict):
        return None
    return {check: {k: v for k, v in fields.items() if isinstance(k, str) and isinstance(v, str)}
            for check, fields in value.items() if isinstance(check, str) and isinstance(fields, dict)}


def _optional_str(value: object) -> str | None:
    return None if value is None else _str(value)


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected a number, found {type(value).__name__}")
    return value
