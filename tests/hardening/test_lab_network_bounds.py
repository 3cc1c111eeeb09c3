"""What a learner's machine can make the lab network's servers store on the host, and what the grader
reads back, is bounded (issue 14, item 7; the spool reading of item 8).

Real lab networks (namespaces, dnsmasq, the remote mail server processes); the traffic comes from
the network's outside client node, as a learner's machine would send it. No learner machine is
needed: the servers cannot tell the difference.
"""
from __future__ import annotations

import json
import os
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sandbox.network as network_module
from sandbox.mailserver import messages, spool as spoolmod
from sandbox.network import Network, NetworkSpec, Node

pytestmark = pytest.mark.machine
ROOT = Path(__file__).resolve().parents[2]
PREFIX = "pytest-net7--"
DNS, MX1, MX2, CLIENT = "192.0.2.53", "198.51.100.10", "198.51.100.20", "203.0.113.10"


def _spec() -> NetworkSpec:
    return NetworkSpec(
        nodes=[Node("dns", "dns", DNS, "ns.example.test"),
               Node("mx1", "server", MX1, "mx1.remote.test", server={"domains": ["remote.test"]}),
               # A small spool, so that filling it takes a moment.
               Node("mx2", "server", MX2, "mx2.remote.test",
                    server={"domains": ["small.test"], "size_limit": 100_000, "spool_bytes": 200_000,
                            "spool_messages": 3}),
               Node("client", "client", CLIENT, "client.example.test")],
        zones=["remote.test", "small.test", "example.test"],
        mx=[["remote.test", "mx1.remote.test", 10], ["small.test", "mx2.remote.test", 10]])


@pytest.fixture(scope="module")
def lab():
    network = Network.create(PREFIX + "mail", _spec())
    try:
        yield network
    finally:
        network.destroy()


class LabSMTP(smtplib.SMTP):
    """smtplib, connecting from a node of the lab network (its own namespace) instead of the host."""

    def __init__(self, network: Network, host: str) -> None:
        self._network = network
        super().__init__(local_hostname="client.example.test", timeout=20)
        self.connect(host, 25)

    def _get_socket(self, host, port, timeout):
        return self._network.connect("client", host, port, timeout=timeout)


def _message(size: int, tag: str) -> bytes:
    head = f"From: a@client.example.test\r\nTo: bob@remote.test\r\nMessage-Id: <{tag}@client.example.test>\r\n\r\n"
    line = b"x" * 998 + b"\r\n"
    return head.encode() + line * max(size // len(line), 1)


def test_a_message_over_the_limit_gets_552_over_real_smtp(lab):
    with LabSMTP(lab, MX1) as client:
        client.ehlo()
        assert int(client.esmtp_features["size"]) == spoolmod.SIZE_LIMIT  # advertised in EHLO
        # Declared too big in MAIL FROM ...
        code, _ = client.mail("a@client.example.test", ["SIZE=%d" % (spoolmod.SIZE_LIMIT + 1)])
        assert code == 552
        client.rset()
        # ... or simply sent too big, without a declaration.
        assert client.mail("a@client.example.test")[0] == 250
        assert client.rcpt("bob@remote.test")[0] == 250
        code, _ = client.data(_message(spoolmod.SIZE_LIMIT + 200_000, "toobig"))
        assert code == 552
    assert [m for m in messages(lab.spool("mx1")) if m.message_id == "toobig@client.example.test"] == []
    assert not any(p.stat().st_size > spoolmod.SIZE_LIMIT for p in lab.spool("mx1").iterdir())


def test_a_stored_message_takes_its_own_size(lab):
    data = _message(9 * 2**20, "nine")
    with LabSMTP(lab, MX1) as client:
        client.sendmail("a@client.example.test", ["bob@remote.test"], data)
    (found,) = [m for m in messages(lab.spool("mx1")) if m.message_id == "nine@client.example.test"]
    assert found.path.with_suffix(".eml").stat().st_size == len(data)  # the bytes themselves
    assert found.path.stat().st_size < 4096  # envelope and headers beside them
    stored = sum(p.stat().st_size for p in lab.spool("mx1").iterdir() if p.stem == found.queue_id)
    print(f"a message of {len(data)} bytes takes {stored} bytes in the spool")


def test_a_full_spool_answers_452_and_keeps_what_it_has(lab):
    small = _message(20_000, "small")
    with LabSMTP(lab, MX2) as client:
        for n in range(3):
            client.sendmail("a@client.example.test", ["bob@small.test"], _message(20_000, f"s{n}"))
        # Three messages are this server's cap: the fourth is told to come back later, not stored.
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("a@client.example.test", ["bob@small.test"], small)
        assert (refused.value.smtp_code, refused.value.smtp_error) == (452, b"4.3.1 Insufficient system storage")
    assert len(messages(lab.spool("mx2"))) == 3
    assert sum(p.stat().st_size for p in lab.spool("mx2").iterdir()) < 200_000 + 3 * 4096


def test_a_fresh_network_of_the_same_name_has_an_empty_spool_and_dns_log(lab):
    """What `reset` does to the lab network (classroom/session.py: Network.create again): nothing stored stays."""
    network = Network.create(PREFIX + "again", _spec())
    try:
        with LabSMTP(network, MX1) as client:
            client.sendmail("a@client.example.test", ["bob@remote.test"], _message(5000, "before"))
        _query(network, "mx1.remote.test")
        assert messages(network.spool("mx1")) and (network.node_dir("dns") / "queries.log").stat().st_size > 0
        network = Network.create(PREFIX + "again", _spec())
        assert messages(network.spool("mx1")) == [] and list(network.spool("mx1").iterdir()) == []
        log = network.node_dir("dns") / "queries.log"
        assert not log.exists() or b"mx1.remote.test" not in log.read_bytes()
    finally:
        network.destroy()
    assert not network.dir.exists()


def _query(network: Network, name: str, rtype: str = "A"):
    import dns.message
    import dns.query

    sock = network.socket("client", socket.AF_INET, socket.SOCK_DGRAM)
    try:
        return dns.query.udp(dns.message.make_query(name, rtype), DNS, timeout=3, sock=sock)
    finally:
        sock.close()


def test_the_dns_query_log_stays_under_its_cap_after_a_flood(monkeypatch):
    import dns.message

    cap = 256 * 1024
    monkeypatch.setattr(network_module, "NODE_FILE_LIMIT", cap)  # the real cap (16 MiB) takes longer to reach
    network = Network.create(PREFIX + "dns", _spec())
    try:
        log = network.node_dir("dns") / "queries.log"
        sock = network.socket("client", socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sent, deadline = 0, time.monotonic() + 8
        try:
            while time.monotonic() < deadline and (not log.exists() or log.stat().st_size < cap):
                for _ in range(200):
                    query = dns.message.make_query(f"n{sent}.flood.example.test", "A").to_wire()
                    try:
                        sock.sendto(query, (DNS, 53))
                        sent += 1
                    except BlockingIOError:
                        break
                while True:  # take the answers, so the flood is not slowed by a full socket
                    try:
                        sock.recv(4096)
                    except BlockingIOError:
                        break
                time.sleep(0.005)
            for _ in range(2000):  # the flood goes on after the cap: nothing more is written
                try:
                    sock.sendto(dns.message.make_query(f"m{_}.flood.example.test", "A").to_wire(), (DNS, 53))
                except BlockingIOError:
                    time.sleep(0.001)
        finally:
            sock.close()
        time.sleep(0.3)
        size = log.stat().st_size
        print(f"{sent} queries; the query log holds {size} bytes (cap {cap})")
        assert cap * 3 // 4 < size <= cap, size  # the flood reached the cap, and stopped there
        # DNS still answers after the cap.
        answer = _query(network, "remote.test", "MX")
        assert [str(r.exchange) for rrset in answer.answer for r in rrset] == ["mx1.remote.test."]
    finally:
        network.destroy()


def test_reading_a_spool_of_huge_files_stays_under_a_memory_bound(tmp_path):
    """A spool that no server would write (300 files of 1 GiB, sparse): the grader's reader still
    holds only its bounded share."""
    for n in range(300):
        data = _message(2000, f"huge{n}")
        entry = spoolmod.record(queue_id=f"H{n:05d}", server="mx1", received=f"2026-12-05T00:{n // 60:02d}:{n % 60:02d}",
                                client=("192.0.2.10", 1), helo="x", mail_from="a@x", mail_options=[],
                                rcpt_tos=["b@remote.test"], data=data)
        spoolmod.store(tmp_path, entry, data)
        with open(tmp_path / f"H{n:05d}.eml", "r+b") as eml:
            eml.truncate(2**30)
    code = ("from sandbox.mailserver import messages, find; "
            f"found = messages({str(tmp_path)!r}); "
            f"assert len(found) == 200 and find({str(tmp_path)!r}, message_id='huge250@client.example.test'); "
            "print(sum(len(m.raw) for m in found), "
            "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) // 1024)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    text, peak_mib = map(int, done.stdout.split())
    print(f"read {text} bytes of message text; peak {peak_mib} MiB")
    assert text <= spoolmod.READ_BUDGET
    assert peak_mib < 120, peak_mib  # reading them whole would be 300 GiB
