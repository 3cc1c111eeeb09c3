"""Evidence from outside a machine: the grader's own connections into the machine's network.

Root inside may replace any program the grader could ask (`postfix status`, `python3`, `dig`), but
a connection the grader makes itself, from a socket it created in the machine's network namespace,
hears what really answers there. Used where a lab has no lab network (and so no outside client),
and for questions only the machine's own network can answer (its loopback, its resolver).
"""
from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any, Callable

from .check import Fail
from .i18n import _

if TYPE_CHECKING:
    from .host import Host

SMTP_TIMEOUT = 5.0
DNS_TIMEOUT = 3.0


def can_reach(host: "Host") -> bool:
    """Does the backend give the grader the machine's network (a real machine, not a unit test's fake)?"""
    return getattr(getattr(host.backend, "machine", None), "pid", None) is not None


def _in_machine_network(host: "Host", make: Callable[[], Any]) -> Any:
    from sandbox.network import _in_netns

    machine = getattr(host.backend, "machine", None)
    pid = getattr(machine, "pid", None)
    if pid is None:
        raise Fail(_("the machine is not running"))
    # The namespace is named by the host's /proc (the machine's init), not by a file of the machine.
    return _in_netns(f"/proc/{int(pid)}/ns/net", make)


def connector(host: "Host") -> Callable[[str, int, float], socket.socket]:
    """A `connect(address, port, timeout)` whose sockets live in the machine's network namespace."""
    def connect(address: str, port: int, timeout: float) -> socket.socket:
        sock = _in_machine_network(host, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
        except BaseException:
            sock.close()
            raise
        return sock
    return connect


def smtp_greeting(host: "Host", port: int = 25, address: str = "127.0.0.1", timeout: float = SMTP_TIMEOUT):
    """The grader's own SMTP conversation (greeting and EHLO) with whatever listens on the machine's
    `address`:`port` (a grader.smtp_probe.Conversation)."""
    from . import smtp_probe

    return smtp_probe.converse(connector(host), address, port, timeout=timeout)


def describe_greeting(talk) -> str:
    """The server's first line, or why there was none."""
    if not talk.connected or talk.banner is None:
        return talk.error or _("no greeting")
    return f"{talk.banner.code} {talk.banner.lines[0] if talk.banner.lines else ''}".strip()


def speaks_smtp(talk) -> bool:
    """A 220 greeting and a 250 answer to EHLO: an SMTP server, not a port that only prints a line."""
    return bool(talk.connected and talk.banner is not None and talk.banner.code == 220
                and talk.ehlo is not None and talk.ehlo.code == 250)


def dns_query(host: "Host", server: str, name: str, rtype: str) -> list[Any]:
    """Ask `server` from the machine's own network, as its resolver would: the answer's records of
    `rtype` ([] for none); Fail when the server does not answer."""
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype

    sock = _in_machine_network(host, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    try:
        reply = dns.query.udp(dns.message.make_query(name, rtype), server, timeout=DNS_TIMEOUT, sock=sock)
    except (dns.exception.Timeout, OSError, ValueError) as exc:
        raise Fail(_("the name server {server} did not answer a {rtype} query for {name} ({error})", server=server,
                     rtype=rtype, name=name, error=str(exc) or type(exc).__name__)) from None
    finally:
        sock.close()
    if reply.rcode() != dns.rcode.NOERROR:
        return []
    wanted = dns.rdatatype.from_text(rtype)
    return [r for rrset in reply.answer for r in rrset if r.rdtype == wanted]
