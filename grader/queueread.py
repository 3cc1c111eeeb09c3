"""Postfix's queue, read from its own files by the host's no-follow walk (not `postqueue -j`).

A `postqueue` replaced inside a machine could show an empty queue, or a held message that is not
there. The queue's files cannot lie that way: each is a list of records (a type byte, a length in
base 128, low bits first, then the data), with the sender ('S'), the recipients ('R'; 'D' once
done) and the arrival time ('T'); a deferred recipient's reason is in the queue's defer log
(`recipient=...`, `reason=...` lines). What is read is bounded: FILES files, READ bytes of each.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .probes import QueuedMessage, QueuedRecipient

if TYPE_CHECKING:
    from .host import Backend

SPOOL = "/var/spool/postfix"
QUEUES = ("maildrop", "hold", "incoming", "active", "deferred")  # as postqueue lists them
FILES = 1000
READ = 1 << 20
REC_SENDER, REC_RCPT, REC_TIME, REC_SIZE, REC_END = ord("S"), ord("R"), ord("T"), ord("C"), ord("E")


def records(data: bytes):
    """(type, payload) of each record, until the data or a record ends short."""
    at = 0
    while at < len(data):
        kind = data[at]
        at += 1
        length, shift = 0, 0
        while True:
            if at >= len(data) or shift > 28:
                return
            byte = data[at]
            at += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if at + length > len(data):
            return
        yield kind, data[at:at + length]
        at += length
        if kind == REC_END:
            return


def parse_queue_file(queue_id: str, queue_name: str, data: bytes,
                     reasons: dict[str, str]) -> QueuedMessage:
    sender, recipients, arrival, size = "", [], None, None
    for kind, payload in records(data):
        text = payload.decode("utf-8", "replace")
        if kind == REC_SENDER:
            sender = text
        elif kind == REC_RCPT:
            recipients.append(QueuedRecipient(text, reasons.get(text)))
        elif kind == REC_TIME and arrival is None:
            first = text.split()[0] if text.split() else ""
            arrival = int(first) if first.isdigit() else None
        elif kind == REC_SIZE and size is None:
            first = text.split()[0] if text.split() else ""
            size = int(first) if first.isdigit() else None
    return QueuedMessage(queue_id, queue_name, sender, tuple(recipients), arrival, size)


def parse_defer_log(data: bytes) -> dict[str, str]:
    """recipient -> reason, from a defer log's `name=value` lines (a blank line between entries)."""
    reasons, recipient = {}, None
    for line in data.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition("=")
        if name == "recipient":
            recipient = value
        elif name == "reason" and recipient is not None:
            reasons[recipient] = value
    return reasons


def _files(backend: "Backend", folder: str, depth: int = 2) -> list[tuple[str, str]]:
    """(queue id, path) of the files under `folder`, in hashed subfolders too (deferred/A/...)."""
    found: list[tuple[str, str]] = []
    try:
        names = backend.listdir(folder)
    except OSError:
        return found
    for name in sorted(names):
        path = f"{folder}/{name}"
        info = backend.stat(path)
        if info is None:
            continue
        if info.st_mode & 0o170000 == 0o040000:
            if depth > 0:
                found.extend(_files(backend, path, depth - 1))
        elif info.st_mode & 0o170000 == 0o100000:
            found.append((name, path))
        if len(found) >= FILES:
            break
    return found[:FILES]


def read_queue(backend: "Backend") -> list[QueuedMessage]:
    found = []
    defer_logs: dict[str, str] | None = None
    for queue in QUEUES:
        for queue_id, path in _files(backend, f"{SPOOL}/{queue}"):
            try:
                data = backend.read_bytes(path, READ)
            except OSError:
                continue  # delivered and removed meanwhile
            reasons: dict[str, str] = {}
            if queue in ("deferred", "active"):
                if defer_logs is None:
                    defer_logs = dict(_files(backend, f"{SPOOL}/defer"))
                if queue_id in defer_logs:
                    try:
                        reasons = parse_defer_log(backend.read_bytes(defer_logs[queue_id], READ))
                    except OSError:
                        pass
            found.append(parse_queue_file(queue_id, queue, data, reasons))
    return found
