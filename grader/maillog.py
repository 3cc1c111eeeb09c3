"""Reading Postfix's mail log and following one message through it.

A message is found by its Message-Id on the `cleanup` line, which names its queue id; that queue
id's `status=` lines say what happened to each recipient; `status=sent (... queued as NEWID)`
names the queue id of the next hop, followed here when that hop is in the same log.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

from .i18n import _, tr
from .machinefiles import read_file

if TYPE_CHECKING:
    from .host import Backend

DEFAULT_MAILLOG = "/var/log/mail.log"
READ_LIMIT = 4 * 1024 * 1024

FINAL_STATUSES = frozenset({"sent", "bounced", "expired", "deliverable", "undeliverable"})

_ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"
_BSD = r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d"
_LINE = re.compile(
    rf"^(?P<ts>{_ISO}|{_BSD})\s+(?P<host>\S+)\s+(?P<program>[^\s\[:]+)"
    r"(?:\[(?P<pid>\d+)\])?:\s(?P<message>.*)$")
_QUEUE_ID = re.compile(r"^(?P<qid>[0-9A-Za-z]{5,20}):\s(?P<rest>.*)$")
_SHORT_QUEUE_ID = re.compile(r"[0-9A-F]{6,}")  # a short queue id: hexadecimal
_LONG_ID_CHARS = set("0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz")
_FIELD = re.compile(r"(?:^|,\s)(?P<key>[a-z_]+)=(?P<value><[^>]*>|[^,\s]*)")
_STATUS = re.compile(r"(?:^|,\s)status=(?P<status>[a-z-]+)(?:\s\((?P<reason>.*)\))?\s*$")
_MESSAGE_ID = re.compile(r"^message-id=<?(?P<mid>[^>\s]*)>?")
_QUEUED_AS = re.compile(r"queued as (?P<qid>[0-9A-Za-z]{5,20})")
_LOOPBACK = re.compile(r"^(?:localhost|127\.\d+\.\d+\.\d+|\[?::1\]?)(?:\[|$)")


def _looks_like_queue_id(token: str) -> bool:
    # "warning:", "statistics:", "NOQUEUE:" must not be taken for queue ids.
    if any(c.isdigit() for c in token):
        return True
    if _SHORT_QUEUE_ID.fullmatch(token):
        return True
    return len(token) >= 10 and set(token) <= _LONG_ID_CHARS


@dataclass(frozen=True)
class LogLine:
    raw: str
    timestamp: str
    host: str
    program: str
    pid: int | None
    queue_id: str | None
    text: str  # the part after "QUEUEID: " (or after "program[pid]: " when there is none)

    @property
    def fields(self) -> dict[str, str]:
        return {m["key"]: m["value"].strip("<>") if m["value"].startswith("<") else m["value"]
                for m in _FIELD.finditer(self.text)}


def parse_line(raw: str) -> LogLine | None:
    match = _LINE.match(raw.rstrip("\r\n"))
    if match is None:
        return None
    message = match["message"]
    qid = None
    qmatch = _QUEUE_ID.match(message)
    if qmatch and _looks_like_queue_id(qmatch["qid"]):
        qid, message = qmatch["qid"], qmatch["rest"]
    return LogLine(raw=raw.rstrip("\r\n"), timestamp=match["ts"], host=match["host"],
                   program=match["program"], pid=int(match["pid"]) if match["pid"] else None,
                   queue_id=qid, text=message)


def parse_lines(text: str) -> list[LogLine]:
    return [line for line in map(parse_line, text.splitlines()) if line is not None]


@dataclass(frozen=True)
class Outcome:
    """One `to=<...>, ..., status=...` line: what happened to one recipient at one hop."""
    queue_id: str
    to: str
    orig_to: str | None
    relay: str | None
    dsn: str | None
    status: str
    reason: str
    line: str

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def queued_as(self) -> str | None:
        match = _QUEUED_AS.search(self.reason) if self.status == "sent" else None
        return match["qid"] if match else None

    def describe(self) -> str:
        parts = [f"to=<{self.to}>"]
        if self.orig_to:
            parts.append(f"orig_to=<{self.orig_to}>")
        parts.append(f"status={self.status}" + (f" ({self.reason})" if self.reason else ""))
        if self.relay:
            parts.append(f"relay={self.relay}")
        if self.dsn:
            parts.append(f"dsn={self.dsn}")
        return ", ".join(parts)


def outcome_of(line: LogLine) -> Outcome | None:
    if line.queue_id is None or not line.text.startswith("to=<"):
        return None
    status = _STATUS.search(line.text)
    if status is None:
        return None
    fields = line.fields
    return Outcome(queue_id=line.queue_id, to=fields.get("to", ""), orig_to=fields.get("orig_to"),
                   relay=fields.get("relay"), dsn=fields.get("dsn"), status=status["status"],
                   reason=status["reason"] or "", line=line.raw)


def matches_recipient(outcome: Outcome, recipient: str) -> bool:
    """Does this outcome concern `recipient` as it was given to sendmail ("root", "a@b.test")?"""
    wanted = recipient.strip("<>").lower()
    for address in (outcome.orig_to, outcome.to):
        if not address:
            continue
        address = address.lower()
        if address == wanted:
            return True
        # sendmail canonicalises a bare "root" to "root@$myorigin".
        if "@" not in wanted and address.split("@", 1)[0] == wanted:
            return True
    return False


@dataclass
class Delivery:
    """What the log says happened to one tagged message, hop by hop, on one machine."""
    message_id: str
    recipients: tuple[str, ...]
    queue_ids: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    tag: str | None = None
    log_path: str = DEFAULT_MAILLOG
    waited: float = 0.0

    @property
    def queue_id(self) -> str | None:
        return self.queue_ids[0] if self.queue_ids else None

    def _is_internal_hop(self, outcome: Outcome) -> bool:
        newid = outcome.queued_as
        if newid is None:
            return False
        # A hop to this same machine (content filter, relay to 127.0.0.1) shows up in this log;
        # until its cleanup line appears the message is still on its way.
        return newid in self.queue_ids or bool(outcome.relay and _LOOPBACK.match(outcome.relay))

    def outcomes_for(self, recipient: str) -> list[Outcome]:
        """The last-hop outcomes for `recipient` (several when an alias expanded it)."""
        mine = [o for o in self.outcomes if len(self.recipients) == 1
                or matches_recipient(o, recipient)]
        latest: dict[tuple[str, str], Outcome] = {}
        for outcome in mine:
            if not self._is_internal_hop(outcome):
                latest[(outcome.queue_id, outcome.to.lower())] = outcome
        return list(latest.values())

    def result_for(self, recipient: str) -> Outcome | None:
        """The outcome that decides `recipient`'s status: a failed one if any, else the last."""
        outcomes = self.outcomes_for(recipient)
        for outcome in outcomes:
            if outcome.status != "sent" and outcome.status != "deliverable":
                return outcome
        return outcomes[-1] if outcomes else None

    def status(self, recipient: str) -> str | None:
        outcome = self.result_for(recipient)
        return outcome.status if outcome else None

    def relay(self, recipient: str) -> str | None:
        outcome = self.result_for(recipient)
        return outcome.relay if outcome else None

    def dsn(self, recipient: str) -> str | None:
        outcome = self.result_for(recipient)
        return outcome.dsn if outcome else None

    @property
    def statuses(self) -> dict[str, str | None]:
        return {rcpt: self.status(rcpt) for rcpt in self.recipients}

    @property
    def complete(self) -> bool:
        """Every recipient has a final status (deferred is not final: it may still go out)."""
        if not self.queue_ids:
            return False
        for rcpt in self.recipients:
            outcomes = self.outcomes_for(rcpt)
            if not outcomes or not all(o.final for o in outcomes):
                return False
        return True

    @property
    def delivered(self) -> bool:
        return self.complete and all(self.status(r) == "sent" for r in self.recipients)

    @property
    def next_hops(self) -> list[str]:
        """Queue ids on another machine that took the message over (follow them in its log)."""
        return [o.queued_as for o in self.outcomes
                if o.queued_as and o.queued_as not in self.queue_ids]

    def summary(self) -> str:
        if not self.queue_ids:
            return _("message <{message_id}> never appeared in {log} within {seconds} s (is Postfix running? "
                     "`service postfix start`)", message_id=self.message_id, log=self.log_path,
                     seconds=f"{self.waited:.0f}")
        parts = []
        for rcpt in self.recipients:
            outcomes = self.outcomes_for(rcpt)
            if not outcomes:  # the log's own words (to=<...>, status=...) stay as Postfix wrote them
                parts.append(tr("{recipient}: no delivery status in the log yet", recipient=rcpt))
                continue
            parts.append(f"{rcpt}: " + "; ".join(o.describe() for o in outcomes))
        return _("queue id {hops}: {outcomes}", hops=" -> ".join(self.queue_ids), outcomes=" | ".join(parts))


def follow(lines: Iterable[LogLine], message_id: str, recipients: Sequence[str],
           *, log_path: str = DEFAULT_MAILLOG) -> Delivery:
    """Collect every hop of the message with `message_id` seen in `lines`."""
    wanted = message_id.strip("<>")
    lines = list(lines)
    queue_ids: list[str] = []
    for line in lines:
        if line.queue_id and line.program.endswith("/cleanup"):
            match = _MESSAGE_ID.match(line.text)
            if match and match["mid"] == wanted and line.queue_id not in queue_ids:
                queue_ids.append(line.queue_id)
    ids = set(queue_ids)
    delivery = Delivery(message_id=wanted, recipients=tuple(recipients), queue_ids=queue_ids,
                        log_path=log_path)
    for line in lines:
        if line.queue_id in ids:
            delivery.lines.append(line.raw)
            outcome = outcome_of(line)
            if outcome is not None:
                delivery.outcomes.append(outcome)
    return delivery


@dataclass(frozen=True)
class Verification:
    """The answer of `sendmail -bv ADDRESS` as written to the log."""
    address: str
    outcome: Outcome | None
    log_path: str = DEFAULT_MAILLOG
    waited: float = 0.0

    @property
    def status(self) -> str | None:
        return self.outcome.status if self.outcome else None

    @property
    def reason(self) -> str:
        return self.outcome.reason if self.outcome else ""

    @property
    def deliverable(self) -> bool:
        return self.status == "deliverable"

    def summary(self) -> str:
        if self.outcome is None:
            return _("`sendmail -bv {address}` wrote no status to {log} within {seconds} s (is Postfix running? "
                     "`service postfix start`)", address=self.address, log=self.log_path,
                     seconds=f"{self.waited:.0f}")
        return f"sendmail -bv {self.address}: {self.outcome.describe()}"


def find_verification(lines: Iterable[LogLine], address: str) -> Outcome | None:
    candidates = [o for o in map(outcome_of, lines)
                  if o is not None and o.status in ("deliverable", "undeliverable")]
    for outcome in candidates:
        if matches_recipient(outcome, address):
            return outcome
    # Rewriting (virtual, canonical maps) may change the address beyond recognition; a lone
    # verification line since the mark can only be ours.
    return candidates[0] if len(candidates) == 1 else None


class MailLog:
    """Postfix's log file on a machine, read in bounded pieces from a size mark."""

    def __init__(self, backend: "Backend", path: str = DEFAULT_MAILLOG, *,
                 limit: int = READ_LIMIT) -> None:
        self.backend = backend
        self.path = path
        self.limit = limit

    def size(self) -> int:
        st = self.backend.stat(self.path)
        return st.st_size if st is not None else 0

    def mark(self) -> int:
        """A position to read from later: only what is written after it is seen."""
        return self.size()

    def text(self, since: int | None = None) -> str:
        size = self.size()
        if since is None or since > size:  # no mark, or the log was rotated or truncated
            since = 0
        offset = max(since, size - self.limit)
        data = read_file(self.backend, self.path, self.limit, offset=offset)
        if data is None:
            return ""
        if offset > since:
            # Started mid-line because only the tail fits: drop the fragment.
            data = data.split(b"\n", 1)[1] if b"\n" in data else b""
        # A line still being written is read again, whole, on the next poll.
        data = data[: data.rfind(b"\n") + 1]
        return data.decode("utf-8", "replace")

    def lines(self, since: int | None = None) -> list[LogLine]:
        return parse_lines(self.text(since))

    def queue_ids(self, message_id: str, since: int | None = None) -> list[str]:
        return follow(self.lines(since), message_id, ()).queue_ids

    def follow(self, message_id: str, recipients: Sequence[str],
               since: int | None = None) -> Delivery:
        return follow(self.lines(since), message_id, recipients, log_path=self.path)

    def lines_for_queue_id(self, queue_id: str, since: int | None = None) -> list[LogLine]:
        """Lines about one queue id, e.g. a `queued as` hop on another machine's log."""
        return [line for line in self.lines(since) if line.queue_id == queue_id]
