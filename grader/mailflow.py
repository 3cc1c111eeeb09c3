"""The journey of one message through Postfix, read from the machines' own mail logs and drawn
as SVG: who handed it in (sendmail or an SMTP client), pickup or smtpd, cleanup, qmgr, the delivery
agent (local, lmtp, smtp, ...), and where it ended (a mailbox, a remote MX, a bounce), with hosts,
queue ids and delays. A `status=sent (250 ... queued as NEWID)` is followed into the next log.

    logs = [("mail", text_of_mail_log), ("mx1", text_of_mx1_log)]
    journey = trace(logs)                      # the last message a person sent, or trace(logs, "<id>")
    html = journey_html(journey)               # SVG, and the same journey in words

"The last message you sent" is the learner's, in this lab, since the lab's start: `lab_mail_logs`
leaves out what a machine's log already held when it was made (first start or reset), that is the
log of its starting state, whose cached layers were built by running earlier reference solutions.
"""
from __future__ import annotations

import html
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

from .errors import NoMessage
from .i18n import N_, Msg, tr, translate
from .maillog import DEFAULT_MAILLOG, READ_LIMIT, LogLine, MailLog, Outcome, outcome_of, parse_lines

GRADER_MESSAGE_ID = re.compile(r"^maillab-[0-9a-f]+@")  # the grader's own tagged messages
_MESSAGE_ID = re.compile(r"^message-id=<?(?P<mid>[^>\s]*)>?")
_NOTIFICATION = re.compile(r"notification: (?P<qid>[0-9A-Za-z]{5,20})")
_DELAYS = re.compile(r"delays=(?P<a>[\d.]+)/(?P<b>[\d.]+)/(?P<c>[\d.]+)/(?P<d>[\d.]+)")
_FROM = re.compile(r"\bfrom=<([^>]*)>")
_CLOCK = re.compile(r"(\d\d:\d\d:\d\d)")
MAX_HOPS = 10

# What the picture says, in one place: English message ids, shown with tr() in the learner's language.
# Stage names and notes made of these are Msgs (they read as English; `translate` gives the learner's).
TEXT = {
    "sendmail": N_("sendmail"), "sendmail_note": N_("run by {who}"),
    "client": N_("SMTP client"), "internal": N_("Postfix itself"),
    "mailbox": N_("mailbox"), "maildir": N_("Maildir"), "command": N_("command"), "remote": N_("remote MX"),
    "lmtp_box": N_("mailbox (LMTP)"), "nowhere": N_("not delivered"),
    "title": N_("The journey of message <{mid}>"),
    "on": N_("on {host}"), "queue": N_("queue id {qid}"), "box": N_("{name} (on {host}): {note}"),
    "delay": N_("{seconds} s"),
    "sent": N_("delivered"), "bounced": N_("bounced"), "deferred": N_("deferred (will retry)"),
    "expired": N_("expired"), "pending": N_("no result yet"),
    "step": N_("{name} on {host}: {note}"), "step_queue": N_("{name} on {host} (queue id {qid}): {note}"),
    "step_bare": N_("{name} on {host}"), "step_queue_bare": N_("{name} on {host} (queue id {qid})"),
    "queued_as": N_("queued as {qid}"), "queued_as_delay": N_("queued as {qid}, {delay}"),
    "no_message": N_("No message sent since this lab started was found in the mail log yet (what the "
                     "lab's starting state was made with is left out). Send one (for example "
                     "`echo Hello | sendmail root`), then run this cell again."),
    "no_such_message": N_("No message with Message-Id <{mid}> is in the mail log. The last messages in it "
                          "are: {known}."),
    "none": N_("none"),
    "in_words": N_("The journey in words"),
    "deferred_queue": N_("deferred queue"),
    "waited": N_("waited {wait}, then tried again"),
    "waited_unknown": N_("waited, then tried again"),
    "waiting_since": N_("waiting since {time}: Postfix tries again later, `postqueue -f` now"),
    "minutes": N_("{minutes} min {seconds} s"),
}


def _label(key: str, **params) -> Msg:
    """TEXT[key] as a message: English until it is shown (translate/tr) in the learner's language."""
    return Msg(TEXT[key], params)


def _shown(value) -> str:
    return str(translate(value))


# Each status is drawn as a shape (_icon: a tick, a cross, a clock, dots), never as a font's symbol.
STATUS_COLOUR = {"sent": "#1a7f37", "bounced": "#b42318", "deferred": "#9a6700", "expired": "#b42318",
                 "pending": "#57606a"}




@dataclass(frozen=True)
class Stage:
    """One box of the picture."""
    name: str                 # "pickup", "cleanup", "local", "mailbox", ...
    host: str
    note: str = ""
    queue_id: str | None = None
    time: str = ""
    delay: str | None = None  # seconds spent on the way into this stage, as logged
    status: str | None = None  # for the last box of a delivery: sent, bounced, deferred, ...


@dataclass
class Handoff:
    """One recipient's outcome at one hop: the agent, then where the message went. After a deferral
    the message waits in the deferred queue: the next attempt for that recipient is a Handoff whose
    `waited` says how long (from the log's clock); a deferral not yet tried again has `waiting`."""
    agent: Stage
    destination: Stage
    next_hop: "Hop | None" = None
    waited: Msg | None = None    # this attempt is a retry, after that long in the deferred queue
    waiting: Msg | None = None   # deferred and not tried again yet: since when it waits
    after: "Handoff | None" = None  # the deferral this attempt tries again

    def queue_stage(self, note: Msg) -> Stage:
        """The deferred queue, as a box of the picture, with how long the message waited there."""
        return Stage(_label("deferred_queue"), self.agent.host, note, self.agent.queue_id)


@dataclass
class Hop:
    """One queue id on one host: how the message came in, and what Postfix did with it."""
    host: str
    queue_id: str
    intake: list[Stage] = field(default_factory=list)  # client, pickup/smtpd, cleanup, qmgr
    deliveries: list[Handoff] = field(default_factory=list)


@dataclass
class Journey:
    message_id: str
    first: Hop

    def hops(self) -> list[Hop]:
        found, todo = [], [self.first]
        while todo:
            hop = todo.pop(0)
            found.append(hop)
            todo += [d.next_hop for d in hop.deliveries if d.next_hop is not None]
        return found

    def stage_names(self) -> list[str]:
        """Every box's name in reading order, e.g. sendmail, pickup, cleanup, qmgr, local, mailbox."""
        names = []
        for hop in self.hops():
            names += [s.name for s in hop.intake]
            for delivery in hop.deliveries:
                names.append(delivery.agent.name)
                if delivery.next_hop is None:
                    names.append(delivery.destination.name)
        return names

    def sentences(self) -> list[str]:
        lines = []
        for hop in self.hops():
            stages = list(hop.intake)
            for delivery in hop.deliveries:
                if delivery.waited is not None:
                    stages.append(delivery.queue_stage(delivery.waited))
                stages.append(delivery.agent)
                if delivery.next_hop is None:
                    stages.append(delivery.destination)
                if delivery.waiting is not None:
                    stages.append(delivery.queue_stage(delivery.waiting))
            for s in stages:
                key = ("step_queue" if s.queue_id else "step") + ("" if s.note else "_bare")
                lines.append(tr(TEXT[key], name=s.name, host=s.host, qid=s.queue_id, note=s.note).rstrip(": "))
        return lines


# -- the logs of this lab, since its start ----------------------------------------------------

def since_start(text: str, starting: str) -> str:
    """The lines of a mail log written since the machine was made: those its starting state's log
    already held (`starting`) are left out. The log usually grows from that text; when it was read
    from a tail, rotated or edited, every line the starting log holds is left out one by one."""
    if not starting:
        return text
    if text.startswith(starting):
        return text[len(starting):]
    made = set(starting.splitlines())
    return "".join(line for line in text.splitlines(keepends=True) if line.rstrip("\n") not in made)


class _LayerRoot:
    """A starting-state layer seen as a machine root: read with the machine backend's safe walk."""

    def __init__(self, root: str):
        self.root = root


def starting_log(lowers: Sequence[str], path: str, limit: int = READ_LIMIT) -> str:
    """The mail log at `path` as a machine's starting state holds it: in the topmost of its layers
    (`lowers`, top first) that has the file; "" when none has it or a layer removed it."""
    from .backends import MachineBackend  # here: the grader reads logs without the sandbox otherwise

    for lower in lowers:
        backend = MachineBackend(_LayerRoot(lower))
        try:
            if backend.stat(path) is None:
                continue
            return MailLog(backend, path, limit=limit).text()
        except Exception:  # a whiteout (the layer deleted it), or something that is no file
            return ""
    return ""


def lab_mail_logs(session, first: str | None = None) -> list[tuple[str, str]]:
    """(machine, log text since the lab's start) of every machine of a lab session, the machine
    `first` (the one the learner works on) first: what `trace` reads."""
    names = [d.name for d in session.lab.machines]
    if first in names:
        names.remove(first)
        names.insert(0, first)
    logs = []
    for name in names:
        host = session.host(name)
        try:
            log = host.maillog()
        except Exception:  # no Postfix there (yet), or the machine is stopped: the usual place
            log = MailLog(host.backend, DEFAULT_MAILLOG)
        try:
            text = log.text()
        except Exception:
            if name == names[0]:
                raise  # the learner's own machine: what went wrong is said
            text = ""  # another machine (stopped, say): the journey ends where this log would go on
        try:
            lowers = list(session.machine(name).spec.lowers)
        except Exception:
            lowers = []
        logs.append((name, since_start(text, starting_log(lowers, log.path, log.limit))))
    return logs


# -- reading the logs -------------------------------------------------------------------------

def trace(logs: Sequence[tuple[str, str]], message_id: str | None = None) -> Journey:
    """The journey of `message_id` (or of the last message a person sent) through the logs:
    (name, text) pairs, the first being the machine the message started on."""
    parsed = [(name, parse_lines(text)) for name, text in logs]
    if not parsed:
        raise NoMessage(_label("no_message"))
    origin = parsed[0][1]
    wanted = message_id.strip().strip("<>") if message_id else None
    queue_id = _find_start(origin, wanted)
    mid = wanted or _message_id_of(origin, queue_id) or ""
    return Journey(mid, _hop(parsed, 0, queue_id, seen=set()))


def _cleanups(lines: list[LogLine]) -> list[tuple[str, str]]:
    """(queue id, message id) of every message cleanup(8) saw, in log order."""
    found = []
    for line in lines:
        if line.queue_id and line.program.endswith("/cleanup"):
            match = _MESSAGE_ID.match(line.text)
            if match:
                found.append((line.queue_id, match["mid"]))
    return found


def _find_start(lines: list[LogLine], wanted: str | None) -> str:
    cleanups = _cleanups(lines)
    if wanted is not None:
        for qid, mid in cleanups:
            if mid == wanted:
                return qid
        known = ", ".join(f"<{mid}>" for _qid, mid in cleanups[-3:]) or _label("none")
        raise NoMessage(_label("no_such_message", mid=wanted, known=known))
    # Not a bounce Postfix wrote, not a later hop of another message, not the grader's own.
    generated = {m["qid"] for line in lines if (m := _NOTIFICATION.search(line.text))}
    generated |= {o.queued_as for o in map(outcome_of, lines) if o is not None and o.queued_as}
    for qid, mid in reversed(cleanups):
        if qid not in generated and not GRADER_MESSAGE_ID.match(mid):
            return qid
    raise NoMessage(_label("no_message"))


def _message_id_of(lines: list[LogLine], queue_id: str) -> str | None:
    for qid, mid in _cleanups(lines):
        if qid == queue_id:
            return mid
    return None


def _hop(logs: list[tuple[str, list[LogLine]]], index: int, queue_id: str, *, seen: set,
         handed_over: bool = False) -> Hop:
    seen.add((index, queue_id))
    lines = [line for line in logs[index][1] if line.queue_id == queue_id]
    host = lines[0].host if lines else logs[index][0]
    hop = Hop(host=host, queue_id=queue_id)
    hop.intake = _intake(lines, host, queue_id)
    if handed_over and hop.intake and hop.intake[0].queue_id is None:
        hop.intake = hop.intake[1:]  # the previous hop's delivery agent was the client
    deferred: dict[str, tuple[Handoff, LogLine]] = {}  # recipient -> its last deferral, not yet retried
    for outcome, line in ((outcome_of(line), line) for line in lines):
        if outcome is None:
            continue
        agent, destination = _delivery(outcome, line, host)
        delivery = Handoff(agent, destination)
        before = deferred.pop(outcome.to, None)
        if before is not None:
            before[0].waiting = None
            delivery.waited = _wait(before[1].timestamp, line.timestamp)
            delivery.after = before[0]
        if destination.status == "deferred":
            delivery.waiting = _label("waiting_since", time=_clock(line.timestamp))
            deferred[outcome.to] = (delivery, line)
        newid = outcome.queued_as
        if newid and len(seen) < MAX_HOPS:
            found = _find_queue_id(logs, newid, prefer=index)
            if found is not None and (found, newid) not in seen:
                delivery.next_hop = _hop(logs, found, newid, seen=seen, handed_over=True)
        hop.deliveries.append(delivery)
    if not hop.deliveries and hop.intake:
        hop.deliveries.append(Handoff(
            Stage("qmgr", host, _label("pending"), queue_id),
            Stage(_label("nowhere"), host, _label("pending"), status="pending")))
    return hop


def _find_queue_id(logs: list[tuple[str, list[LogLine]]], queue_id: str, *, prefer: int) -> int | None:
    """Which log has the cleanup line of `queue_id` (the same log first: a content filter)."""
    order = [prefer] + [i for i in range(len(logs)) if i != prefer]
    for i in order:
        if any(line.queue_id == queue_id and line.program.endswith("/cleanup") for line in logs[i][1]):
            return i
    return None


def _intake(lines: list[LogLine], host: str, queue_id: str) -> list[Stage]:
    stages: list[Stage] = []
    for line in lines:
        program = line.program.rsplit("/", 1)[-1]
        fields = line.fields
        when = _clock(line.timestamp)
        if program == "pickup" and not stages:
            who = line.text.split(",")[0].replace("uid=", "uid ").split(" from=")[0]
            stages.append(Stage(_label("sendmail"), host, _label("sendmail_note", host=host, who=who),
                                time=when))
            sender = _FROM.search(line.text)
            stages.append(Stage("pickup", host, f"from=<{sender.group(1) if sender else ''}>", queue_id, when))
        elif program == "smtpd" and "client" in fields and not stages:
            stages.append(Stage(_label("client"), host, fields["client"], time=when))
            stages.append(Stage("smtpd", host, f"client={fields['client']}", queue_id, when))
        elif program == "cleanup" and line.text.startswith("message-id="):
            if not stages:
                stages.append(Stage(_label("internal"), host, "", time=when))
            stages.append(Stage("cleanup", host, line.text, queue_id, when))
        elif program == "qmgr" and "from" in fields and not any(s.name == "qmgr" for s in stages):
            note = f"from=<{fields['from']}>, size={fields.get('size', '?')}, nrcpt={fields.get('nrcpt', '?')}"
            stages.append(Stage("qmgr", host, note, queue_id, when))
    # The time before the queue manager (delays=a/...) belongs on the way into qmgr.
    for line in lines:
        match = _DELAYS.search(line.text)
        if match:
            stages = [Stage(s.name, s.host, s.note, s.queue_id, s.time, _seconds(match["a"]))
                      if s.name == "qmgr" else s for s in stages]
            break
    return stages


def _delivery(outcome: Outcome, line: LogLine, host: str) -> tuple[Stage, Stage]:
    agent_name = line.program.rsplit("/", 1)[-1]
    delays = _DELAYS.search(line.text)
    when = _clock(line.timestamp)
    into_agent = _seconds(delays["b"]) if delays else None
    onwards = _seconds(str(float(delays["c"]) + float(delays["d"]))) if delays else None
    note = f"to=<{outcome.to}>" + (f", relay={outcome.relay}" if outcome.relay else "")
    agent = Stage(agent_name, host, note, outcome.queue_id, when, into_agent)
    status = outcome.status if outcome.status in STATUS_COLOUR else "pending"
    reason = outcome.reason
    if outcome.queued_as:
        relay = outcome.relay or "?"
        where = Stage(_label("remote"), relay.split("[")[0], f"{relay}: {reason}", outcome.queued_as, when,
                      onwards, status)
    elif agent_name == "local" and "maildir" in reason:
        where = Stage(_label("maildir"), host, f"{outcome.to}: {reason}", None, when, onwards, status)
    elif agent_name == "local" and "command" in reason:
        where = Stage(_label("command"), host, reason, None, when, onwards, status)
    elif agent_name == "local" and status == "sent":
        user = outcome.to.split("@", 1)[0]
        where = Stage(_label("mailbox"), host, f"/var/mail/{user}: {reason}", None, when, onwards, status)
    elif agent_name == "lmtp":
        where = Stage(_label("lmtp_box"), host, f"{outcome.relay}: {reason}", None, when, onwards, status)
    elif agent_name == "smtp" and outcome.relay and outcome.relay != "none":
        where = Stage(_label("remote"), outcome.relay.split("[")[0], f"{outcome.relay}: {reason}", None, when,
                      onwards, status)
    else:
        where = Stage(_label("nowhere"), host, reason, None, when, onwards, status)
    return agent, where


def _clock(timestamp: str) -> str:
    match = _CLOCK.search(timestamp)
    return match.group(1) if match else timestamp


def _wait(since: str, until: str) -> Msg:
    """How long a message waited between two log lines (their clock; a wait past midnight wraps)."""
    def seconds(timestamp: str) -> int | None:
        clock = _clock(timestamp)
        if not re.fullmatch(r"\d\d:\d\d:\d\d", clock):
            return None
        h, m, s = (int(x) for x in clock.split(":"))
        return h * 3600 + m * 60 + s

    a, b = seconds(since), seconds(until)
    if a is None or b is None:
        return _label("waited_unknown")
    wait = (b - a) % 86400
    if wait < 60:
        return _label("waited", wait=_label("delay", seconds=str(wait)))
    return _label("waited", wait=_label("minutes", minutes=wait // 60, seconds=wait % 60))


def _seconds(value: str) -> str:
    number = float(value)
    return _label("delay", seconds=f"{number:.2f}".rstrip("0").rstrip(".") if number else "0")


# -- drawing ----------------------------------------------------------------------------------

BOX_W, GAP_X, GAP_Y, MARGIN, PAD = 168, 64, 48, 12, 8
COLUMNS = 6  # client, pickup/smtpd, cleanup, qmgr, agent, destination
INNER_W = BOX_W - 2 * PAD
ARROW_Y = 30  # arrows between boxes of a row leave and arrive this far below the boxes' top
ICON_W = 18  # a status line starts with a drawn icon (no font needed), then its word
# Font sizes and line pitches: the box's name, its plain lines, its log text (monospace), the arrows' labels.
NAME, PLAIN, LOGTEXT, LABEL = (13, 17), (12, 15), (11, 14), 11
# Advance widths, in em, a little over DejaVu Sans / Liberation Sans (the fonts a browser falls back to):
# a line measured with these fits its box in any of them. Monospace is 0.6 em everywhere.
_NARROW, _WIDE = set("iljtfrI.,:;'|!()[] "), set("mwMW@%")


def text_width(text: str, size: float, *, mono: bool = False) -> float:
    """The width `text` takes at `size` px (an upper bound of what a browser draws)."""
    width = 0.0
    for char in text:
        if unicodedata.east_asian_width(char) in ("W", "F"):
            width += 1.0
        elif mono:
            width += 0.61
        elif char in _NARROW:
            width += 0.42
        elif char in _WIDE:
            width += 1.0
        elif char.isupper():
            width += 0.78
        else:
            width += 0.64
    return width * size


def wrap(text: str, size: float, width: float, *, mono: bool = False) -> list[str]:
    """`text` in lines of at most `width` px, broken after spaces, commas and '=' where it can and
    inside a word only when the word alone is too long: nothing is cut off."""
    lines: list[str] = []
    line = ""
    for token in re.findall(r"[^\s,=/]*[\s,=/]*", text):
        if not token:
            continue
        if text_width(line + token.rstrip(), size, mono=mono) <= width:
            line += token
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = ""
        while text_width(token.rstrip(), size, mono=mono) > width:
            cut = 1
            while text_width(token[:cut + 1], size, mono=mono) <= width:
                cut += 1
            lines.append(token[:cut])
            token = token[cut:]
        line = token
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


@dataclass
class _Line:
    text: str
    size: int
    pitch: int
    mono: bool = False
    bold: bool = False
    icon: str | None = None  # a status, drawn before the text


@dataclass
class _Box:
    stage: Stage
    col: int
    row: int
    waits: bool = False  # the deferred queue
    lines: list[_Line] = field(default_factory=list)
    x: int = 0
    y: int = 0

    @property
    def height(self) -> int:
        return 2 * PAD + 4 + sum(line.pitch for line in self.lines)


@dataclass
class _Edge:
    start: _Box
    end: _Box
    down: bool  # from the bottom of start to the top of end; else from its right side to end's left
    label: str | None = None


def _lines_of(stage: Stage, waits: bool) -> list[_Line]:
    name = _shown(stage.name)
    lines = [_Line(t, NAME[0], NAME[1], bold=True, icon="deferred" if waits and i == 0 else None)
             for i, t in enumerate(wrap(name, NAME[0], INNER_W - (ICON_W if waits else 0)))]
    lines += [_Line(t, *PLAIN) for t in wrap(tr(TEXT["on"], host=stage.host), PLAIN[0], INNER_W)]
    if stage.queue_id:
        lines += [_Line(t, *PLAIN) for t in wrap(tr(TEXT["queue"], qid=stage.queue_id), PLAIN[0], INNER_W)]
    if stage.status:
        word = tr(TEXT[stage.status]) if stage.status in TEXT else stage.status
        lines += [_Line(t, *PLAIN, bold=True, icon=stage.status if i == 0 else None)
                  for i, t in enumerate(wrap(word, PLAIN[0], INNER_W - ICON_W))]
    note = _shown(stage.note)
    if note:
        lines += [_Line(t, *LOGTEXT, mono=not waits) for t in wrap(note, LOGTEXT[0], INNER_W, mono=not waits)]
    if stage.time:
        lines.append(_Line(stage.time, *PLAIN))
    return lines


def _layout(journey: Journey) -> tuple[list[_Box], list[_Edge]]:
    """Boxes on a grid (one row per hop, per further recipient and per retry) and the arrows between them."""
    boxes: list[_Box] = []
    edges: list[_Edge] = []
    ends: dict[int, _Box] = {}  # id(handoff) -> the last box drawn for it (where a retry comes from)

    def add(stage: Stage, col: int, row: int, *, waits: bool = False) -> _Box:
        box = _Box(stage, col, row, waits)
        boxes.append(box)
        return box

    def place(hop: Hop, row: int, came_from: _Box | None, label: str | None) -> int:
        first_col = max(COLUMNS - 2 - len(hop.intake), 0) if came_from is None else 1
        previous: _Box | None = None
        for i, stage in enumerate(hop.intake):
            box = add(stage, first_col + i, row)
            if previous is not None:
                edges.append(_Edge(previous, box, False, stage.delay))
            elif came_from is not None:
                edges.append(_Edge(came_from, box, True, label))
            previous = box
        qmgr_col = previous.col if previous is not None else first_col
        agent_col = max(qmgr_col + 1, COLUMNS - 2)
        next_row = row + 1
        for n, delivery in enumerate(hop.deliveries):
            r = row if n == 0 else next_row
            source = previous
            if delivery.waited is not None:  # back from the deferred queue, after a wait
                queue = add(delivery.queue_stage(delivery.waited), qmgr_col, r, waits=True)
                before = ends.get(id(delivery.after)) if delivery.after is not None else None
                if before is not None:
                    edges.append(_Edge(before, queue, True))
                source = queue
            agent = add(delivery.agent, agent_col, r)
            if source is not None:
                edges.append(_Edge(source, agent, False, delivery.agent.delay))
            end = agent
            if delivery.next_hop is None:
                end = add(delivery.destination, agent_col + 1, r)
                edges.append(_Edge(agent, end, False, delivery.destination.delay))
                next_row = max(next_row, r + 1)
            else:
                qid, delay = delivery.destination.queue_id, delivery.destination.delay
                handed = (tr(TEXT["queued_as_delay"], qid=qid, delay=delay) if delay
                          else tr(TEXT["queued_as"], qid=qid))
                next_row = place(delivery.next_hop, max(next_row, r + 1), agent, handed)
            ends[id(delivery)] = end
            if delivery.waiting is not None:  # deferred, and waiting still: the point of the picture
                queue = add(delivery.queue_stage(delivery.waiting), qmgr_col, next_row, waits=True)
                edges.append(_Edge(end, queue, True))
                next_row += 1
        return next_row

    rows = place(journey.first, 0, None, None)
    heights = [0] * rows
    for box in boxes:
        box.lines = _lines_of(box.stage, box.waits)
        heights[box.row] = max(heights[box.row], box.height)
    tops = [MARGIN]
    for h in heights[:-1]:
        tops.append(tops[-1] + h + GAP_Y)
    for box in boxes:
        box.x, box.y = MARGIN + box.col * (BOX_W + GAP_X), tops[box.row]
    return boxes, edges


def _size(boxes: list[_Box]) -> tuple[int, int]:
    width = MARGIN * 2 + COLUMNS * BOX_W + (COLUMNS - 1) * GAP_X
    height = max((b.y + b.height for b in boxes), default=0) + MARGIN
    return width, height


def journey_svg(journey: Journey) -> str:
    """The journey as an SVG picture: one row per hop, one box per stage, delays on the arrows, the
    waits in the deferred queue as boxes of their own. Its ids are its own (several pictures share a
    page), and its text is wrapped to fit its boxes, never cut."""
    boxes, edges = _layout(journey)
    width, height = _size(boxes)
    ids = f"maillab-flow-{secrets.token_hex(4)}"
    arrow = f"{ids}-arrow"
    title = html.escape(tr(TEXT["title"], mid=journey.message_id))
    desc = html.escape(" ".join(s + "." for s in journey.sentences()))
    paths, labels = zip(*(_edge(e, arrow) for e in edges)) if edges else ((), ())
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="maillab-mailflow" role="img" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" style="max-width:none" '
            f'aria-labelledby="{ids}-title {ids}-desc" font-family="sans-serif" font-size="12">'
            f'<title id="{ids}-title">{title}</title><desc id="{ids}-desc">{desc}</desc>'
            f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>'
            + "".join(paths) + "".join(_box(b) for b in boxes) + "".join(labels) + "</svg>")


def journey_html(journey: Journey) -> str:
    """The picture, then the same journey in words (for screen readers and for copying)."""
    items = "".join(f"<li>{html.escape(s)}</li>" for s in journey.sentences())
    title = html.escape(tr(TEXT["title"], mid=journey.message_id))
    # Drawn at its real size (readable text), scrolled sideways when the page is narrower (the svg's
    # own max-width:none: JupyterLab's output styles would shrink it to the column, text and all).
    return (f'<div class="maillab-mailflow-view"><p><strong>{title}</strong></p>'
            f'<div style="overflow-x:auto">{journey_svg(journey)}</div>'
            f'<details><summary>{html.escape(tr(TEXT["in_words"]))}</summary><ol>{items}</ol></details></div>')


def _icon(status: str, x: float, y: float) -> str:
    """A status drawn as a shape (a font may lack the symbol), centred on (x, y); the word follows it."""
    colour = STATUS_COLOUR.get(status, "#444")
    stroke = f'fill="none" stroke="{colour}" stroke-linecap="round" stroke-width="2"'
    thin = stroke.replace('stroke-width="2"', 'stroke-width="1.5"')
    if status == "sent":
        shape = f'<path d="M{x - 5},{y} l3.5,4 l6.5,-8" {stroke}/>'
    elif status in ("bounced", "expired"):
        shape = f'<path d="M{x - 4},{y - 4} l8,8 M{x + 4},{y - 4} l-8,8" {stroke}/>'
    elif status == "deferred":  # a clock: the message waits
        shape = (f'<circle cx="{x}" cy="{y}" r="5.5" {thin}/>'
                 f'<path d="M{x},{y - 3.5} L{x},{y} L{x + 2.5},{y + 1.5}" {thin}/>')
    else:
        shape = "".join(f'<circle cx="{x + dx}" cy="{y}" r="1.3" fill="{colour}"/>' for dx in (-4, 0, 4))
    return f'<g class="maillab-icon maillab-icon-{status}" aria-hidden="true">{shape}</g>'


def _box(box: _Box) -> str:
    stage, x, y = box.stage, box.x, box.y
    colour = "#9a6700" if box.waits else STATUS_COLOUR.get(stage.status or "", "#444")
    fill = "#fff8e5" if box.waits else "#f6f8fa" if not stage.status else "#ffffff"
    dash = ' stroke-dasharray="5 3"' if box.waits else ""
    full = html.escape(tr(TEXT["box"], name=stage.name, host=stage.host, note=stage.note))
    text, baseline = [], y + PAD
    for line in box.lines:
        baseline += line.pitch
        left = x + PAD
        if line.icon:
            text.append(_icon(line.icon, left + 6, baseline - line.size * 0.35))
            left += ICON_W
        attrs = (' font-weight="bold"' if line.bold else "") + (' font-family="monospace"' if line.mono else "")
        text.append(f'<text x="{left}" y="{baseline}" font-size="{line.size}"{attrs}>{html.escape(line.text)}</text>')
    return (f'<g class="maillab-stage{" maillab-wait" if box.waits else ""}"><title>{full}</title>'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{box.height}" rx="6" fill="{fill}" stroke="{colour}" '
            f'stroke-width="{2 if stage.status or box.waits else 1}"{dash}/>{"".join(text)}</g>')


def _edge(edge: _Edge, arrow: str) -> tuple[str, str]:
    """The arrow's path, and its label (drawn over the boxes and paths, on a white halo)."""
    a, b = edge.start, edge.end
    if edge.down:
        x1, y1 = a.x + BOX_W // 2, a.y + a.height
        x2, y2 = b.x + BOX_W // 2, b.y
        below = a.y + a.height
        mid = below + GAP_Y // 2
        d = f"M{x1},{y1} L{x1},{mid} L{x2},{mid} L{x2},{y2 - 2}"
        lx, ly = (x1 + x2) // 2, mid - 5
    else:
        x1, y1 = a.x + BOX_W, a.y + ARROW_Y
        x2, y2 = b.x, b.y + ARROW_Y
        d = (f"M{x1},{y1} L{x2 - 2},{y2}" if y1 == y2
             else f"M{x1},{y1} C{x1 + 30},{y1} {x2 - 34},{y2} {x2 - 2},{y2}")
        # At a fork every branch's label sits at its own end, on its own row: none overprints another.
        lx, ly = (x1 + x2) // 2, y2 - 6
    path = f'<path d="{d}" fill="none" stroke="#444" stroke-width="1.5" marker-end="url(#{arrow})"/>'
    if not edge.label:
        return path, ""
    label = (f'<text class="maillab-flow-label" x="{lx}" y="{ly}" text-anchor="middle" font-size="{LABEL}" '
             f'fill="#333" stroke="#fff" stroke-width="3" paint-order="stroke">{html.escape(_shown(edge.label))}</text>')
    return path, label
