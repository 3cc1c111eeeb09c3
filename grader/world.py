"""What a check sees beyond its own machine: the lab's other machines and its network.

A check reaches it as `host.outside` (the outside client's view) and `host.machine(NAME)`:

    world.received("mx1")                  what remote server mx1 stored, oldest first
    world.trace(delivery)                  the hops a tagged message took, across machines and servers
    world.resolve_mx("remote.test")        the MX records the lab's DNS gives the outside client
    world.converse("192.0.2.10", rcpts=[...])   an SMTP conversation from the outside client
    world.send_via_mx("example.test", ...)  what an MTA on the Internet would do
    world.node_state("mx1")                up, stopped, unplugged
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sandbox import SandboxError
from sandbox import mailserver

from .check import Fail
from .i18n import _

if TYPE_CHECKING:
    from sandbox.network import Network

    from .host import Host
    from .course import Lab
    from .maillog import Delivery


class LabContext(Protocol):
    """What the world needs of whoever runs the lab (the application's session): the lab, its
    network, a machine's host and the nodes' states."""

    lab: "Lab"
    drawn: tuple[str, ...]  # the faults of the lab's pool this learner's machines were given

    def network(self) -> "Network | None": ...

    def host(self, name: str | None = None) -> "Host": ...

    def node_states(self) -> dict[str, str]: ...

    def node(self, name: str, action: str) -> str: ...

DNS_TIMEOUT = 3.0
TXT_LIMIT = 4096  # characters of one TXT record the grader reads (a 4096-bit DKIM key is ~750)
STORED = _("stored")  # a Hop's status at a remote server (the others are the log's words: sent, deferred, ...)


@dataclass
class Hop:
    """One place a message was on its way: a learner machine's queue or a remote server's spool."""
    where: str  # a node name
    queue_id: str
    status: str  # sent, deferred, bounced, stored (at a remote server), ...
    relay: str = ""  # the next host, as the log names it

    def describe(self) -> str:
        if self.relay:
            return _("{where} ({queue_id}): {status} via {relay}", where=self.where, queue_id=self.queue_id,
                     status=self.status, relay=self.relay)
        return _("{where} ({queue_id}): {status}", where=self.where, queue_id=self.queue_id, status=self.status)


class World:
    def __init__(self, session: LabContext):
        self.session = session
        self.network = session.network()
        if self.network is None:
            raise SandboxError(_("The lab {lab} has no lab network.", lab=session.lab.id))
        self.spec = session.lab.network

    @property
    def drawn(self) -> tuple[str, ...]:
        """The faults of the lab's pool (faults/ID/) this learner's machines were given."""
        return tuple(getattr(self.session, "drawn", ()))

    # -- machines and nodes --------------------------------------------------------------
    def machine(self, name: str) -> "Host":
        return self.session.host(name)

    def machine_names(self) -> list[str]:
        """The lab's machines, as lab.toml names them."""
        return [decl.name for decl in self.session.lab.machines]

    def machine_address(self, name: str) -> str | None:
        """The lab network address of machine `name` (None when it has none)."""
        return next((decl.address or None for decl in self.session.lab.machines if decl.name == name), None)

    def machine_at(self, address: str) -> str | None:
        """The lab machine at `address` on the lab network, if any."""
        return next((decl.name for decl in self.session.lab.machines if decl.address == address), None)

    def node_state(self, name: str) -> str:
        return self.session.node_states().get(name, "unknown")

    def set_node(self, name: str, action: str) -> None:
        """Stop or start a node, unplug or plug it in (a check that needs a fault puts it back)."""
        self.session.node(name, action)

    def servers(self) -> list[str]:
        return [n.name for n in self.spec.nodes if n.kind == "server"]

    # -- what remote servers received ------------------------------------------------------
    def received(self, server: str) -> list[Any]:
        if server not in self.servers():
            raise ValueError(f"the lab has no mail server called {server!r}")
        return mailserver.messages(self.network.spool(server))

    def find_received(self, *, queue_id: str | None = None, message_id: str | None = None) -> tuple[str, Any] | None:
        """(server, message) for a message any remote server stored, by its queue id there or its Message-Id."""
        for server in self.servers():
            found = mailserver.find(self.network.spool(server), queue_id=queue_id, message_id=message_id)
            if found is not None:
                return server, found
        return None

    def trace(self, delivery: "Delivery", start: str | None = None) -> list[Hop]:
        """Follow a tagged message from the machine that sent it, hop by hop by queue id: through
        other learner machines' logs and into a remote server's spool."""
        where = start or self.session.lab.machines[0].name
        hops: list[Hop] = []
        current: "Delivery | None" = delivery
        while current is not None and current.queue_id and len(hops) < 10:
            outcomes = [o for rcpt in current.recipients if (o := current.result_for(rcpt))]
            first = outcomes[0] if outcomes else None
            hops.append(Hop(where, current.queue_id, first.status if first else _("in the queue"),
                            first.relay or "" if first else ""))
            current, where = self._next_hop(current, hops)
        return hops

    def _next_hop(self, delivery: "Delivery", hops: list[Hop]):
        for queue_id in delivery.next_hops:
            found = self.find_received(queue_id=queue_id)
            if found is not None:
                hops.append(Hop(found[0], queue_id, STORED))
                return None, ""
            for decl in self.session.lab.machines:
                try:
                    other = self.machine(decl.name).maillog().follow(delivery.message_id, list(delivery.recipients))
                except (SandboxError, Fail):
                    continue
                if queue_id in other.queue_ids:
                    return other, decl.name
        return None, ""

    # -- DNS and SMTP from a node (the outside client by default) -----------------------------
    def resolve_mx(self, domain: str, *, from_node: str = "client") -> list[tuple[int, str]]:
        """[(preference, host)] as the lab's DNS answers, best first; [] when there is none."""
        answer = self._query(domain, "MX", from_node)
        return sorted((r.preference, str(r.exchange).rstrip(".")) for r in answer)

    def resolve_a(self, name: str, *, from_node: str = "client") -> list[str]:
        return sorted(r.address for r in self._query(name, "A", from_node))

    def resolve_txt(self, name: str, *, from_node: str = "client") -> list[str]:
        """Each TXT record at `name`, its strings joined (as SPF, DKIM and DMARC read them), at most
        TXT_LIMIT characters each."""
        return [b"".join(r.strings)[:TXT_LIMIT].decode("ascii", "replace") for r in self._query(name, "TXT", from_node)]

    def _query(self, name: str, rtype: str, from_node: str):
        import dns.exception
        import dns.message
        import dns.query
        import dns.rcode

        server = self.spec.dns_address()
        if server is None:
            raise SandboxError(_("The lab has no DNS server."))
        sock = self.network.socket(from_node, socket.AF_INET, socket.SOCK_DGRAM)
        try:
            query = dns.message.make_query(name, rtype, use_edns=0, payload=4096)
            reply = dns.query.udp(query, server, timeout=DNS_TIMEOUT, sock=sock)
        except dns.exception.Timeout:
            raise Fail(_("the lab's DNS server ({server}) did not answer a {rtype} query for {name}", server=server,
                         rtype=rtype, name=name)) from None
        finally:
            sock.close()
        if reply.rcode() != dns.rcode.NOERROR:
            return []
        return [r for rrset in reply.answer for r in rrset if r.rdtype == dns.rdatatype.from_text(rtype)]

    def greeting(self, host: str, port: int, *, from_node: str = "client", timeout: float = 3.0) -> str | None:
        """The first line a server sends on connecting (a POP3 or IMAP greeting): None when the
        connection is refused or times out, "" when the server says nothing."""
        try:
            sock = self.network.connect(from_node, host, port, timeout)
        except OSError:
            return None
        try:
            return sock.recv(200).decode("utf-8", "replace").strip()
        except OSError:
            return ""
        finally:
            sock.close()

    def connector(self, from_node: str = "client"):
        """A `connect(host, port, timeout)` that opens TCP connections from inside a node."""
        return lambda host, port, timeout: self.network.connect(from_node, host, port, timeout)

    def converse(self, host: str, port: int = 25, *, from_node: str = "client", **options) -> Any:
        from . import smtp_probe

        return smtp_probe.converse(self.connector(from_node), host, port, **options)

    def send_via_mx(self, domain: str, *, from_node: str = "client", **options) -> Any:
        """Deliver like an MTA on the Internet would: MX hosts of `domain` in preference order."""
        from . import smtp_probe

        def resolve(name: str) -> list[tuple[int, str]]:
            return [(pref, (self.resolve_a(host, from_node=from_node) or [host])[0])
                    for pref, host in self.resolve_mx(name, from_node=from_node)]
        return smtp_probe.send_like_an_mta(resolve, self.connector(from_node), domain, **options)

    # -- reading mail as a client does (POP3, IMAP) -------------------------------------------
    def pop3(self, host: str, user: str, password: str, *, from_node: str = "client", **options) -> Any:
        """Log in over POP3 from a node (the outside client by default); `starttls=True` (STLS on 110) or
        `implicit_tls=True` (port=995) for TLS, the server's certificate in `.certificate`; see grader.retrieval."""
        from . import retrieval

        return retrieval.pop3(self.connector(from_node), host, user, password, **options)

    def imap(self, host: str, user: str, password: str, *, from_node: str = "client", **options) -> Any:
        """Log in over IMAP from a node (the outside client by default); `starttls=True` (on 143) or
        `implicit_tls=True` (port=993) for TLS, the server's certificate in `.certificate`; see grader.retrieval."""
        from . import retrieval

        return retrieval.imap(self.connector(from_node), host, user, password, **options)
