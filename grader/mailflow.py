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
}


def _label(key: str, **params) -> Msg:
    """TEXT[key] as a message: English until it is shown (translate/tr) in the learner's language."""
    return Msg(TEXT[key], params)


def _shown(value) -> str:
    return str(translate(value))
STATUS_ICON = {"sent": "\u2714", "bounced": "\u2718", "deferred": "\u23f3", "expired": "\u2718",
               "pending": "\u2026"}
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
    """One recipient's outcome at one hop: the agent, then where the message went."""
    agent: Stage
    destination: Stage
    next_hop: "Hop | None" = None


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
                stages.append(delivery.agent)
                if delivery.next_hop is None:
                    stages.append(delivery.destination)
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
        text = log.text()
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
    for outcome, line in ((outcome_of(line), line) for line in lines):
        if outcome is None:
            continue
        agent, destination = _delivery(outcome, line, host)
        delivery = Handoff(agent, destination)
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
    status = outcome.status if outcome.status in STATUS_ICON else "pending"
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


def _seconds(value: str) -> str:
    number = float(value)
    return _label("delay", seconds=f"{number:.2f}".rstrip("0").rstrip(".") if number else "0")


# -- drawing ----------------------------------------------------------------------------------

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 160, 84, 40, 46, 12
COLUMNS = 6  # client, pickup/smtpd, cleanup, qmgr, agent, destination


def journey_svg(journey: Journey) -> str:
    """The journey as an SVG picture: one row per hop, one box per stage, delays on the arrows."""
    boxes: list[str] = []
    arrows: list[str] = []
    row = 0

    def xy(col: int, r: int) -> tuple[int, int]:
        return MARGIN + col * (BOX_W + GAP_X), MARGIN + r * (BOX_H + GAP_Y)

    def draw_hop(hop: Hop, r: int, came_from: tuple[int, int] | None, label: str | None) -> int:
        """Draw a hop starting at row r; returns the next free row."""
        intake = hop.intake
        first_col = COLUMNS - 2 - len(intake) if came_from is None else 1
        first_col = max(first_col, 0)
        previous = None
        for i, stage in enumerate(intake):
            col = first_col + i
            boxes.append(_box(stage, *xy(col, r)))
            if previous is not None:
                arrows.append(_arrow(xy(previous, r), xy(col, r), stage.delay))
            elif came_from is not None:
                arrows.append(_arrow_down(came_from, xy(col, r), label))
            previous = col
        qmgr_col = previous if previous is not None else first_col
        next_row = r + 1
        for n, delivery in enumerate(hop.deliveries):
            rr = r + n if n == 0 else next_row
            agent_col = max(qmgr_col + 1, COLUMNS - 2)
            boxes.append(_box(delivery.agent, *xy(agent_col, rr)))
            if previous is not None:
                arrows.append(_arrow(xy(qmgr_col, r), xy(agent_col, rr), delivery.agent.delay))
            if delivery.next_hop is None:
                boxes.append(_box(delivery.destination, *xy(agent_col + 1, rr)))
                arrows.append(_arrow(xy(agent_col, rr), xy(agent_col + 1, rr), delivery.destination.delay))
                next_row = max(next_row, rr + 1)
            else:
                qid, delay = delivery.destination.queue_id, delivery.destination.delay
                label = (tr(TEXT["queued_as_delay"], qid=qid, delay=delay) if delay
                         else tr(TEXT["queued_as"], qid=qid))
                next_row = draw_hop(delivery.next_hop, max(next_row, rr + 1), xy(agent_col, rr), label)
        return next_row

    rows = draw_hop(journey.first, row, None, None)
    width = MARGIN * 2 + COLUMNS * BOX_W + (COLUMNS - 1) * GAP_X
    height = MARGIN * 2 + rows * BOX_H + (rows - 1) * GAP_Y
    title = html.escape(tr(TEXT["title"], mid=journey.message_id))
    desc = html.escape(" ".join(s + "." for s in journey.sentences()))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="maillab-mailflow" role="img" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'aria-labelledby="maillab-flow-title maillab-flow-desc" font-family="sans-serif" font-size="12">'
            f'<title id="maillab-flow-title">{title}</title><desc id="maillab-flow-desc">{desc}</desc>'
            '<defs><marker id="maillab-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>'
            + "".join(arrows) + "".join(boxes) + "</svg>")


def journey_html(journey: Journey) -> str:
    """The picture, then the same journey in words (for screen readers and for copying)."""
    items = "".join(f"<li>{html.escape(s)}</li>" for s in journey.sentences())
    title = html.escape(tr(TEXT["title"], mid=journey.message_id))
    # Drawn at its real size (readable text), scrolled sideways when the page is narrower.
    return (f'<div class="maillab-mailflow-view"><p><strong>{title}</strong></p>'
            f'<div style="overflow-x:auto">{journey_svg(journey)}</div>'
            f'<details><summary>{html.escape(tr(TEXT["in_words"]))}</summary><ol>{items}</ol></details></div>')


def _box(stage: Stage, x: int, y: int) -> str:
    on = tr(TEXT["on"], host=stage.host)
    name, note = _shown(stage.name), _shown(stage.note)
    lines = [on]
    if stage.queue_id:
        lines.append(tr(TEXT["queue"], qid=stage.queue_id))
    if stage.status:
        lines.append(f"{STATUS_ICON[stage.status]} {tr(TEXT[stage.status]) if stage.status in TEXT else stage.status}")
    if note:
        lines.append(note)
    if stage.time:
        lines.append(stage.time)
    colour = STATUS_COLOUR.get(stage.status or "", "#444")
    fill = "#f6f8fa" if not stage.status else "#ffffff"
    full = html.escape(tr(TEXT["box"], name=stage.name, host=stage.host, note=stage.note))
    text = [f'<text x="{x + 8}" y="{y + 18}" font-weight="bold" font-size="13">{html.escape(_fit(name, 20))}</text>']
    for i, line in enumerate(lines[:4]):
        text.append(f'<text x="{x + 8}" y="{y + 34 + i * 14}">{html.escape(_fit(line, 24))}</text>')
    return (f'<g class="maillab-stage"><title>{full}</title>'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" stroke="{colour}" '
            f'stroke-width="{2 if stage.status else 1}"/>{"".join(text)}</g>')


def _arrow(a: tuple[int, int], b: tuple[int, int], label: str | None) -> str:
    x1, y1 = a[0] + BOX_W, a[1] + BOX_H // 2
    x2, y2 = b[0], b[1] + BOX_H // 2
    path = f"M{x1},{y1} L{x2 - 2},{y2}" if y1 == y2 else f"M{x1},{y1} C{x1 + 20},{y1} {x2 - 20},{y2} {x2 - 2},{y2}"
    return _path(path, label, (x1 + x2) // 2, min(y1, y2) - 6)


def _arrow_down(a: tuple[int, int], b: tuple[int, int], label: str | None) -> str:
    x1, y1 = a[0] + BOX_W // 2, a[1] + BOX_H
    x2, y2 = b[0] + BOX_W // 2, b[1]
    mid = (y1 + y2) // 2
    return _path(f"M{x1},{y1} L{x1},{mid} L{x2},{mid} L{x2},{y2 - 2}", label, (x1 + x2) // 2, mid - 5)


def _path(d: str, label: str | None, lx: int, ly: int) -> str:
    text = (f'<text x="{lx}" y="{ly}" text-anchor="middle" font-size="11" fill="#333">{html.escape(_shown(label))}</text>'
            if label else "")
    return f'<path d="{d}" fill="none" stroke="#444" stroke-width="1.5" marker-end="url(#maillab-arrow)"/>{text}'


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"
