"""Mail from a stranger on the Internet, into a lab machine, in every lab (with or without a lab network).

An Internet Site takes mail for its domain from anyone. `sendmail` inside the machine cannot show
that: it never touches port 25, nor `inet_interfaces`, nor the rules smtpd applies to a client
outside `mynetworks`. So the grader holds the SMTP conversation itself, from an address that is not
the machine's and not in its `mynetworks`, and reads the delivered file from the host side.

- In a lab with a network: from the outside client node (203.0.113.10) to the machine's address.
- In a single-machine lab (only a loopback interface): the grader makes both addresses local to the
  machine's network namespace for the length of one conversation (`ip route add local ADDR dev lo`,
  the host's own `ip`, "AnyIP"), binds its socket to the stranger's address and connects to the
  machine's public address. They are routes, not interface addresses, so Postfix never counts them
  as its own (`mynetworks_style = host`), and `inet_interfaces = loopback-only` refuses them as it
  refuses any other host. The routes are removed afterwards.

    sent = outside.require_taken(host, ["alice@example.test"])     # Fail unless all were taken
    outside.require_in(host, sent, {"/var/mail/alice": lambda: host.mailbox("alice")})
"""
from __future__ import annotations

import contextlib
import socket
import subprocess
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Sequence

from .check import Fail
from .host import MESSAGE_ID_DOMAIN, build_message
from .i18n import _

if TYPE_CHECKING:
    from .host import Host
    from .maillog import Delivery
    from .smtp_probe import Conversation

STRANGER = "203.0.113.10"  # the outside client's address in the labs with a network
PUBLIC = "192.0.2.10"  # the mail machine's address in the labs with a network
OUTSIDE_SENDER = "friend@client.example"
EHLO = "client.example"
TIMEOUT = 5.0


@dataclass
class FromOutside:
    client: str
    server: str
    message_id: str
    tag: str
    rcpts: list[str]
    talk: "Conversation"
    mark: int = 0  # the mail log's size before the message was sent


def can_send(host: "Host") -> bool:
    """Is there a network to send from (a real machine or a lab network, not a unit test's fake)?"""
    return host.world is not None or getattr(getattr(host.backend, "machine", None), "pid", None) is not None


def _netns_of(host: "Host") -> str:
    pid = getattr(getattr(host.backend, "machine", None), "pid", None)
    if pid is None:
        raise Fail(_("the machine is not running"))
    return f"/proc/{int(pid)}/ns/net"


def _ip_batch(netns: str, commands: list[str]) -> subprocess.CompletedProcess:
    # Host binaries only; just the network namespace is the machine's.
    return subprocess.run(["nsenter", f"--net={netns}", "--", "ip", "-batch", "-"], input="\n".join(commands) + "\n",
                          capture_output=True, text=True, timeout=5)


@contextlib.contextmanager
def _anyip(netns: str) -> Iterator[None]:
    """Both addresses local to the machine's namespace, as routes (not interface addresses)."""
    done = _ip_batch(netns, [f"route replace local {a}/32 dev lo" for a in (PUBLIC, STRANGER)])
    if done.returncode != 0:
        raise RuntimeError(f"could not add the outside client's routes: {done.stderr.strip()}")
    try:
        yield
    finally:
        _ip_batch(netns, [f"route del local {a}/32 dev lo" for a in (PUBLIC, STRANGER)])


def _machine_address(host: "Host") -> str | None:
    return host.world.machine_address(host.name)


def send(host: "Host", rcpts: Sequence[str], *, sender: str = OUTSIDE_SENDER,
         subject: str = "MailLab test message from outside", timeout: float = TIMEOUT) -> FromOutside:
    """Hand a tagged message to the machine's port 25 as a stranger on the Internet would. Never
    fails for what the server answered: see `refusal` and `require_taken`."""
    from sandbox.network import _in_netns

    from . import smtp_probe

    rcpts = list(rcpts)
    token = uuid.uuid4().hex
    message_id = f"maillab-{token}@{MESSAGE_ID_DOMAIN}"
    data = build_message(sender, rcpts, subject=subject, message_id=message_id, tag=token)
    mark = host.maillog().mark()
    options = dict(ehlo=EHLO, mail_from=sender, rcpts=rcpts, data=data, timeout=timeout)
    server = _machine_address(host) if host.world is not None else None
    if server is not None:
        client = host.world.spec.node("client").address
        talk = smtp_probe.converse(host.world.connector("client"), server, 25, **options)
    else:
        netns = _netns_of(host)
        client, server = STRANGER, PUBLIC

        def connect(address: str, port: int, seconds: float) -> socket.socket:
            sock = _in_netns(netns, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            try:
                sock.settimeout(seconds)
                sock.bind((STRANGER, 0))
                sock.connect((address, port))
            except BaseException:
                sock.close()
                raise
            return sock

        with _anyip(netns):
            talk = smtp_probe.converse(connect, server, 25, **options)
    return FromOutside(client, server, message_id, token, rcpts, talk, mark)


def refusal(sent: FromOutside, *, domain_hint: str | None = None, unknown_hint: str | None = None) -> Fail | None:
    """Why the server did not take the message for every recipient (a Fail whose hint names what
    was seen), or None when it took it."""
    talk = sent.talk
    where = {"client": sent.client, "server": sent.server}
    if not talk.connected:
        detail = _("a client on another computer ({client}) could not connect to {server} port 25: {error}",
                   error=talk.error, **where)
        if "refused" in (talk.error or ""):
            return Fail(detail, hint=_(
                "Postfix takes no mail from other computers: an Internet Site listens on every interface. "
                "Set `inet_interfaces = all` in main.cf (and check the smtp line of master.cf), then restart "
                "Postfix (`postfix stop; postfix start`): a reload does not change where it listens."))
        return Fail(detail, hint=_("Is Postfix running and listening on port 25 of every interface? "
                                   "`service postfix start`, `inet_interfaces = all`."))
    refused = {rcpt: reply for rcpt, reply in talk.rcpt.items() if not reply.ok}
    if refused:
        rcpt, reply = next(iter(refused.items()))
        detail = _("a client on another computer ({client}) sent mail for {rcpt}; the server answered: {reply}",
                   rcpt=rcpt, reply=str(reply).replace("\n", " "), **where)
        text = reply.text.lower()
        if "relay access denied" in text:
            return Fail(detail, hint=domain_hint or _(
                "Postfix treats that domain as someone else's and relays only for its own network, so a stranger "
                "is refused: the domain must be a local destination (`mydestination`, e.g. `$myhostname, "
                "$mydomain, localhost.$mydomain, localhost`), then `postfix reload`."))
        if "client host rejected" in text or "access denied" in text:
            return Fail(detail, hint=_(
                "Postfix refuses strangers: an Internet Site takes mail for its own domain from anyone. Remove "
                "the `reject` for clients outside mynetworks from `smtpd_client_restrictions` (or "
                "`smtpd_recipient_restrictions`), then `postfix reload`."))
        if "user unknown" in text:
            return Fail(detail, hint=unknown_hint or _(
                "Postfix takes mail for the domain but knows no such user: the user must exist (`id USER`), "
                "or an alias must name them (/etc/aliases, then `newaliases`)."))
        return Fail(detail, hint=_("Read the server's answer and the lines of /var/log/mail.log around it: "
                                   "smtpd says why it refused the recipient."))
    if not talk.delivered:
        return Fail(_("a client on another computer ({client}) could not hand over its message: {transcript}",
                      transcript=talk.describe(), **where),
                    hint=_("Read the server's answer and /var/log/mail.log: smtpd says why it refused the message."))
    return None


def require_taken(host: "Host", rcpts: Sequence[str], *, subject: str = "MailLab test message from outside",
                  domain_hint: str | None = None, unknown_hint: str | None = None) -> FromOutside:
    """Send from outside; Fail unless the server took the message for every recipient."""
    sent = send(host, rcpts, subject=subject)
    problem = refusal(sent, domain_hint=domain_hint, unknown_hint=unknown_hint)
    if problem is not None:
        raise problem
    return sent


def log_of(host: "Host", sent: FromOutside) -> "Delivery":
    """What the machine's log says about the message (its queue ids and each recipient's status)."""
    delivery = host.maillog().follow(sent.message_id, sent.rcpts, since=sent.mark)
    delivery.waited = 0.0
    return delivery


def settled_log(host: "Host", sent: FromOutside, within: float = 8.0) -> "Delivery":
    """The log's account of the message once every recipient has a final status (or `within` ran out)."""
    log = host.maillog()
    delivery, waited = host.wait_timed(lambda: log.follow(sent.message_id, sent.rcpts, since=sent.mark),
                                       within=within, until=lambda found: found.complete)
    delivery.waited = waited
    return delivery


def require_in(host: "Host", sent: FromOutside, folders: Mapping[str, Callable[[], object]], *,
               within: float = 8.0, hint: str | None = None) -> str:
    """Each folder (a name shown to the learner -> a function reading it, e.g. host.mailbox("alice"))
    holds the message within `within` seconds; Fail naming the first that does not and what the
    log says."""
    def missing() -> list[str]:
        return [name for name, read in folders.items() if sent.message_id not in read()]

    absent = host.wait_for(missing, within=within, until=lambda names: not names)
    if absent:
        raise Fail(_("the server took a message from {client} (queue id {qid}), but {place} does not hold it; "
                     "the log: {log}", client=sent.client, qid=sent.talk.queue_id or "?", place=absent[0],
                     log=log_of(host, sent).summary()),
                   hint=hint or _("The message came in over SMTP but did not reach the mailbox: read the log "
                                  "lines of its queue id (`grep QUEUEID /var/log/mail.log`)."))
    return _("a stranger at {client} sent over SMTP to {server}: taken as {qid}, found in {places}",
             client=sent.client, server=sent.server, qid=sent.talk.queue_id or "?", places=", ".join(folders))
