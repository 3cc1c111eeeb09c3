"""Mail coming in from the lab network: a tagged message sent from a node (the outside client by
default), as an MTA on the Internet would send it or to one server, then followed in the log of
the learner machine that took it.

    inbound = send_from_outside(host, "example.test", ["alice@example.test"])
    inbound.smtp.delivered_by        # "192.0.2.20": which address took it
    inbound.machine                  # "mail2": which learner machine that is
    inbound.log                      # maillog.Delivery on that machine (sent, deferred, ...)
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from .host import MESSAGE_ID_DOMAIN, build_message
from .maillog import Delivery

if TYPE_CHECKING:
    from .host import Host

OUTSIDE_SENDER = "friend@client.example"


@dataclass
class Inbound:
    message_id: str
    tag: str
    smtp: Any                       # smtp_probe.MxAttempts (send_via_mx) or Conversation (submit)
    machine: str | None = None      # the learner machine that took the message
    log: Delivery | None = None     # what that machine's log says about it

    @property
    def taken(self) -> bool:
        return self.machine is not None

    def outcomes(self) -> list:
        return self.log.outcomes if self.log else []

    def deferred(self) -> bool:
        """Every recipient waits in the queue (the last word on each is `deferred`)."""
        if self.log is None or not self.log.recipients:
            return False
        return all(self.log.status(rcpt) == "deferred" for rcpt in self.log.recipients)


def _tagged(sender: str, rcpts: Sequence[str], subject: str) -> tuple[str, str, bytes]:
    token = uuid.uuid4().hex
    message_id = f"maillab-{token}@{MESSAGE_ID_DOMAIN}"
    return message_id, token, build_message(sender, rcpts, subject=subject, message_id=message_id, tag=token)


def _machine_at(host: "Host", address: str | None) -> str | None:
    return host.world.machine_at(address) if address else None


def _settled(delivery: Delivery) -> bool:
    """Every recipient has a final status, or waits in the queue."""
    if not delivery.queue_ids:
        return False
    return all(delivery.status(rcpt) in ("sent", "bounced", "expired", "deferred") for rcpt in delivery.recipients)


def _follow(host: "Host", inbound: Inbound, rcpts: Sequence[str], marks: dict[str, int], within: float) -> Inbound:
    if inbound.machine is None:
        return inbound
    log = host.machine(inbound.machine).maillog()
    inbound.log = host.wait_for(lambda: log.follow(inbound.message_id, list(rcpts), since=marks.get(inbound.machine)),
                                within=within, until=_settled)
    return inbound


def _marks(host: "Host") -> dict[str, int]:
    marks = {}
    for name in host.world.machine_names():
        try:
            marks[name] = host.machine(name).maillog().mark()
        except Exception:  # a machine that is down has no log to mark: read it whole later
            marks[name] = 0
    return marks


def send_from_outside(host: "Host", domain: str, rcpts: Sequence[str], *, sender: str = OUTSIDE_SENDER,
                      subject: str = "MailLab test message from outside", from_node: str = "client",
                      timeout: float = 5.0, within: float = 10.0) -> Inbound:
    """Send a tagged message to `domain` the way an MTA on the Internet does (its MX hosts, best
    first) and follow it on the learner machine that took it until it is delivered or waits."""
    message_id, tag, data = _tagged(sender, rcpts, subject)
    marks = _marks(host)
    smtp = host.world.send_via_mx(domain, from_node=from_node, mail_from=sender, rcpts=list(rcpts),
                                        data=data, timeout=timeout)
    inbound = Inbound(message_id, tag, smtp, _machine_at(host, smtp.delivered_by))
    return _follow(host, inbound, rcpts, marks, within)


def submit(host: "Host", server: str, rcpts: Sequence[str], *, sender: str = OUTSIDE_SENDER,
           subject: str = "MailLab test message", from_node: str = "client", timeout: float = 5.0,
           within: float = 10.0, **options: Any) -> Inbound:
    """Hand a tagged message to one server (an address) over SMTP from a node, and follow it there.
    `options` go to the conversation: port, starttls, auth (a mail client submitting on port 587)."""
    message_id, tag, data = _tagged(sender, rcpts, subject)
    marks = _marks(host)
    talk = host.world.converse(server, from_node=from_node, mail_from=sender, rcpts=list(rcpts), data=data,
                               timeout=timeout, **options)
    inbound = Inbound(message_id, tag, talk, _machine_at(host, server) if talk.delivered else None)
    return _follow(host, inbound, rcpts, marks, within)
