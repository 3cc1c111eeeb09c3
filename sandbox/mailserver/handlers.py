"""What a remote mail server answers, one small class per mode, and the replies it speaks (in Postfix's words).

The handlers implement only the aiosmtpd hooks they need: MAIL (Postfix's reply text), RCPT (who is
accepted) and DATA (store the message, answer with its queue id). Mode "verify" also checks each
message's SPF, DKIM and DMARC before it answers DATA, and stores the verdicts with it (verdict.py).
"""
from __future__ import annotations

import asyncio
import functools
import secrets
from concurrent.futures import ThreadPoolExecutor
import time
from datetime import datetime, timezone

from . import spool
from .config import ServerConfig

# -- the replies, in one place ----------------------------------------------------------------
MAIL_OK = "250 2.1.0 Ok"
RCPT_OK = "250 2.1.5 Ok"
QUEUED = "250 2.0.0 Ok: queued as {queue_id}"
RELAY_DENIED = "554 5.7.1 <{address}>: Relay access denied"
USER_UNKNOWN = "550 5.1.1 <{address}>: Recipient address rejected: User unknown"
GREYLISTED = "450 4.7.1 <{address}>: Recipient address rejected: Greylisted, try again later"
NOT_FQDN = "504 5.5.2 <{address}>: Recipient address rejected: need fully-qualified address"
WRITE_ERROR = "451 4.3.0 Error: queue file write error"
SPOOL_FULL = "452 4.3.1 Insufficient system storage"


class Accepting:
    """Mode "accept": take mail for our domains (except the addresses listed in `reject`) and store it."""
    records_transcript = False

    def __init__(self, config: ServerConfig) -> None:
        self.config = config

    async def handle_MAIL(self, server, session, envelope, address: str, mail_options: list[str]) -> str:
        # A full spool says so before the message is sent (as Postfix does when its queue disk is full).
        if not self._has_room(_declared_size(mail_options)):
            return SPOOL_FULL
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return MAIL_OK

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options: list[str]) -> str:
        refusal = self.refusal(session, envelope, address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return RCPT_OK

    def refusal(self, session, envelope, address: str) -> str | None:
        """The reply refusing this recipient, or None to accept it."""
        local, at, domain = address.rpartition("@")
        if not at or not local:
            return NOT_FQDN.format(address=address)
        if domain.lower().rstrip(".") not in self.config.domains:
            return RELAY_DENIED.format(address=address)
        if address.lower() in self.config.reject:
            return USER_UNKNOWN.format(address=address)
        return None

    async def handle_DATA(self, server, session, envelope) -> str:
        data = envelope.original_content or b""
        verdicts = await self.verdicts(session, envelope, data)
        # No await from here to the write: two sessions cannot both take the spool's last room.
        if not self._has_room(len(data)):
            return SPOOL_FULL  # nothing is lost: the client keeps the message and tries again later
        queue_id = self._new_queue_id()
        reply = QUEUED.format(queue_id=queue_id)
        transcript = None
        if server.transcript is not None:
            transcript = [*server.transcript, ("server", reply + "\r\n")]
        entry = spool.record(
            queue_id=queue_id, server=self.config.name, received=datetime.now(timezone.utc).isoformat(),
            client=session.peer, helo=session.host_name, mail_from=envelope.mail_from,
            mail_options=envelope.mail_options, rcpt_tos=envelope.rcpt_tos,
            data=data, transcript=transcript, verdicts=verdicts)
        try:
            spool.store(self.config.spool, entry, data)
        except OSError:
            return WRITE_ERROR  # the client keeps the message and tries again later: nothing is lost
        return reply

    async def verdicts(self, session, envelope, data: bytes) -> dict | None:
        """What the server makes of the message beside storing it (mode "verify"); None: nothing."""
        return None

    def _has_room(self, size: int) -> bool:
        return spool.has_room(self.config.spool, size, max_bytes=self.config.spool_bytes,
                              max_messages=self.config.spool_messages)

    def _new_queue_id(self) -> str:
        # Looks like a Postfix short queue id (hex), so log parsers take it for one.
        while True:
            queue_id = secrets.token_hex(6).upper()
            if not (self.config.spool / f"{queue_id}.json").exists():
                return queue_id


class Rejecting(Accepting):
    """Mode "reject": every recipient of our domains is unknown."""

    def refusal(self, session, envelope, address: str) -> str | None:
        return super().refusal(session, envelope, address) or USER_UNKNOWN.format(address=address)


class Greylisting(Accepting):
    """Mode "greylist": a new (client address, sender, recipient) is told to come back after a while."""

    def __init__(self, config: ServerConfig, clock=time.monotonic) -> None:
        super().__init__(config)
        self.clock = clock
        self.first_seen: dict[tuple[str, str, str], float] = {}

    def refusal(self, session, envelope, address: str) -> str | None:
        refused = super().refusal(session, envelope, address)
        if refused:
            return refused
        triple = (str(session.peer[0]), str(envelope.mail_from).lower(), address.lower())
        now = self.clock()
        first = self.first_seen.get(triple)
        if first is None:
            self.first_seen[triple] = now
            return GREYLISTED.format(address=address)
        if now - first < self.config.greylist_seconds:
            return GREYLISTED.format(address=address)
        return None


class Capturing(Accepting):
    """Mode "capture": accept like "accept", and store every line that crossed the wire with each message."""
    records_transcript = True


class Verifying(Accepting):
    """Mode "verify": accept like "accept", and record SPF, DKIM and DMARC verdicts with each message,
    as a receiving mail provider checks them (asking the lab's DNS server). The checks run in worker
    threads, off the event loop, and a message whose checks take longer than VERIFY_SECONDS gets
    temperror verdicts ("took too long")."""
    VERIFY_SECONDS = 8.0
    DNS_SECONDS = 6.0   # the DNS lookups' own deadline, so a slow DNS server gets its own reason

    def __init__(self, config: ServerConfig) -> None:
        super().__init__(config)
        from . import verdict  # dkimpy and pyspf are needed by this mode only
        self.verdict = verdict
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="verify")

    async def verdicts(self, session, envelope, data: bytes) -> dict:
        check = functools.partial(
            self.verdict.verdicts, data, client_ip=str(session.peer[0]), helo=session.host_name,
            mail_from=envelope.mail_from or "", dns_server=self.config.dns, dns_port=self.config.dns_port,
            seconds=self.DNS_SECONDS)
        try:
            job = asyncio.get_running_loop().run_in_executor(self.pool, check)
            return await asyncio.wait_for(job, self.VERIFY_SECONDS)
        except asyncio.TimeoutError:
            return self.verdict.took_too_long()
        except Exception as error:  # noqa: BLE001 - whatever happens, the message gets a verdict
            failed = {"result": "temperror", "reason": f"the checks failed ({type(error).__name__})"}
            return {"spf": dict(failed), "dkim": dict(failed), "dmarc": dict(failed)}


HANDLERS = {"accept": Accepting, "reject": Rejecting, "greylist": Greylisting, "capture": Capturing,
            "verify": Verifying}


def _declared_size(mail_options: list[str]) -> int:
    """The SIZE=N a client declared in MAIL FROM, else 0."""
    for option in mail_options:
        name, _, value = option.partition("=")
        if name.upper() == "SIZE" and value.isdigit():
            return int(value)
    return 0


def handler_for(config: ServerConfig) -> Accepting:
    return HANDLERS[config.mode](config)
