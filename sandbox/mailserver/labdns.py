"""DNS questions of a verifying mail server, asked of the lab's DNS server directly.

A server node has no /etc/resolv.conf pointing at the lab's DNS server, so nothing here goes
through the system resolver: each question is one UDP query (EDNS, 4096 bytes) to the address in
the server's settings, asked again over TCP when the answer comes back truncated. The answers come
from a machine a learner is root on, so everything is bounded: each query waits at most
QUERY_SECONDS, one verification asks at most MAX_QUERIES questions before its deadline, and an
answer's records may hold at most ANSWER_BYTES bytes of data (a larger one is a failed lookup).
"""
from __future__ import annotations

import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

QUERY_SECONDS = 2.0
MAX_QUERIES = 40
ANSWER_BYTES = 8 * 1024
MAX_RECORDS = 50


class LookupFailed(Exception):
    """The question got no usable answer (timeout, SERVFAIL, too large, out of time): a temporary error."""


class LabDNS:
    """Asks one DNS server; shared by the SPF, DKIM and DMARC checks of one message, within one deadline."""

    def __init__(self, server: str, port: int = 53, *, seconds: float = 8.0) -> None:
        self.server = server
        self.port = port
        self.deadline = time.monotonic() + seconds
        self.queries = 0

    def query(self, name: str, rdtype: str) -> list:
        """The records of that type for the name (following the CNAMEs the server puts in its answer):
        [] for NXDOMAIN or no data. Raises LookupFailed."""
        try:
            qname = dns.name.from_text(name.rstrip(".") + ".")
        except (dns.exception.DNSException, UnicodeError, ValueError):
            return []  # not a name DNS can carry: nothing can be published there
        wanted = dns.rdatatype.from_text(rdtype)
        response = self._ask(dns.message.make_query(qname, wanted, use_edns=0, payload=4096))
        rcode = response.rcode()
        if rcode == dns.rcode.NXDOMAIN:
            return []
        if rcode != dns.rcode.NOERROR:
            raise LookupFailed(f"the DNS server answered {dns.rcode.to_text(rcode)} for {name} {rdtype}")
        records = [rdata for rrset in response.answer if rrset.rdtype == wanted for rdata in rrset]
        if len(records) > MAX_RECORDS or sum(_size(r) for r in records) > ANSWER_BYTES:
            raise LookupFailed(f"the answer for {name} {rdtype} is too large")
        return records

    def txt(self, name: str) -> list[str]:
        """Each TXT record of the name, its strings joined (bytes that are not ASCII shown as U+FFFD)."""
        return [b"".join(r.strings).decode("ascii", "replace") for r in self.query(name, "TXT")]

    def _ask(self, query: dns.message.Message) -> dns.message.Message:
        self.queries += 1
        if self.queries > MAX_QUERIES:
            raise LookupFailed(f"more than {MAX_QUERIES} DNS lookups for one message")
        try:
            try:
                return dns.query.udp(query, self.server, timeout=self._timeout(), port=self.port,
                                     raise_on_truncation=True, ignore_unexpected=True)
            except dns.message.Truncated:
                return dns.query.tcp(query, self.server, timeout=self._timeout(), port=self.port)
        except dns.exception.Timeout:
            raise LookupFailed(f"the DNS server {self.server} did not answer in time") from None
        except (dns.exception.DNSException, OSError, EOFError, ValueError) as error:
            raise LookupFailed(f"the DNS server {self.server} gave no usable answer "
                               f"({type(error).__name__})") from None

    def _timeout(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise LookupFailed("the DNS lookups took too long")
        return min(QUERY_SECONDS, left)


def _size(rdata) -> int:
    strings = getattr(rdata, "strings", None)
    if strings is not None:
        return sum(len(s) for s in strings)
    return len(rdata.to_text())
