"""Mode "verify": a remote mail server that checks SPF, DKIM and DMARC like a receiving provider.

The DMARC logic is tested as pure functions; the rest end to end on loopback: a real dnsmasq serves
the records, a real server process (python -m sandbox.mailserver) receives mail sent with smtplib,
and the verdicts are read back from its spool.
"""
from __future__ import annotations

import base64
import json
import smtplib
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import dkim
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from grader import course
from grader.errors import MailLabError
from sandbox.mailserver import find, messages
from sandbox.mailserver.config import ConfigError, from_dict
from sandbox.mailserver.dmarc import RecordError, aligned, evaluate, organizational, parse_record
from sandbox.mailserver.labdns import LabDNS, LookupFailed
from sandbox.mailserver.server import wait_ready
from sandbox.mailserver.spool import record, store

ROOT = Path(__file__).resolve().parents[2]


# -- DMARC, pure -------------------------------------------------------------------------------
def test_a_dmarc_record_parses_with_its_defaults():
    assert parse_record("v=DMARC1; p=reject") == {"p": "reject", "sp": "reject", "adkim": "r", "aspf": "r"}
    assert parse_record("v=DMARC1;p=quarantine;sp=none;adkim=s;aspf=S;rua=mailto:x@example.test") == \
        {"p": "quarantine", "sp": "none", "adkim": "s", "aspf": "s"}


@pytest.mark.parametrize("text, said", [
    ("v=DMARC1", "no p="), ("v=DMARC1; p=bounce", "p=bounce"), ("v=DMARC1; p=none; adkim=x", "adkim=x"),
    ("v=DMARC1; p=none; junk", "not a tag=value"), ("v=spf1 -all", "v=DMARC1"),
])
def test_a_dmarc_record_that_does_not_parse_says_why(text, said):
    with pytest.raises(RecordError, match=said):
        parse_record(text)


def test_alignment_relaxed_takes_the_organizational_domain_strict_the_name():
    assert organizational("mail.Example.TEST.") == "example.test"
    assert aligned("mail.example.test", "example.test", "r")
    assert not aligned("mail.example.test", "example.test", "s")
    assert aligned("example.test", "EXAMPLE.test", "s")
    assert not aligned("remote.test", "example.test", "r")
    assert not aligned("", "example.test", "r")


def _dmarc(records: dict, **results):
    inputs = {"spf_result": "none", "spf_domain": "", "dkim_result": "none", "dkim_domain": ""} | results
    return evaluate("example.test", lambda name: records.get(name, []), **inputs)


def test_dmarc_passes_with_an_aligned_spf_or_dkim_pass_and_fails_otherwise():
    records = {"_dmarc.example.test": ["v=DMARC1; p=reject; aspf=s"]}
    passed = _dmarc(records, spf_result="pass", spf_domain="example.test")
    assert passed == {"result": "pass", "domain": "example.test", "policy": "reject",
                      "reason": "SPF passed for example.test, aligned with example.test"}
    assert _dmarc(records, dkim_result="pass", dkim_domain="mail.example.test")["result"] == "pass"  # adkim=r
    failed = _dmarc(records, spf_result="pass", spf_domain="bounce.example.test", dkim_result="fail",
                    dkim_domain="example.test")
    assert failed["result"] == "fail" and failed["policy"] == "reject"
    assert "not aligned (strict)" in failed["reason"] and "DKIM fail for d=example.test" in failed["reason"]
    assert _dmarc(records, dkim_result="pass", dkim_domain="remote.test")["result"] == "fail"


def test_dmarc_none_permerror_and_the_organizational_record():
    assert _dmarc({}, spf_result="pass", spf_domain="example.test")["result"] == "none"
    assert _dmarc({"_dmarc.example.test": ["some other text"]})["result"] == "none"
    two = _dmarc({"_dmarc.example.test": ["v=DMARC1; p=none", "v=DMARC1; p=reject"]})
    assert two["result"] == "none" and "2 DMARC records" in two["reason"]
    broken = _dmarc({"_dmarc.example.test": ["v=DMARC1; p=maybe"]})
    assert broken["result"] == "permerror" and "p=maybe" in broken["reason"]
    records = {"_dmarc.example.test": ["v=DMARC1; p=reject; sp=quarantine"]}
    sub = evaluate("news.example.test", lambda name: records.get(name, []),
                   spf_result="fail", spf_domain="news.example.test", dkim_result="none", dkim_domain="")
    assert sub["result"] == "fail" and sub["policy"] == "quarantine"
    assert evaluate(None, lambda name: [], spf_result="pass", spf_domain="x.test", dkim_result="none",
                    dkim_domain="")["result"] == "none"


# -- settings and the lab declaration ----------------------------------------------------------
BASE = {"name": "mx1", "hostname": "mx1.remote.test", "listen": ["127.0.0.1", 0], "domains": ["remote.test"],
        "spool": "/tmp/spool"}


def test_verify_mode_needs_a_dns_address_and_takes_a_port():
    config = from_dict(BASE | {"mode": "verify", "dns": "192.0.2.53"})
    assert (config.mode, config.dns, config.dns_port) == ("verify", "192.0.2.53", 53)
    assert from_dict(BASE | {"mode": "verify", "dns": "127.0.0.1", "dns_port": 5353}).dns_port == 5353
    for change, said in [({}, 'needs "dns"'), ({"dns": "ns.example.test"}, '"dns" must be the IP address'),
                         ({"dns": "127.0.0.1", "dns_port": 0}, '"dns_port" must be a whole number')]:
        with pytest.raises(ConfigError, match=said):
            from_dict(BASE | {"mode": "verify"} | change)


LAB = """\
id = "net"
title = "A networked lab"

[[steps]]
id = "one"
title = "One"

[[machines]]
name = "mail"
hostname = "mail"
domain = "example.test"
address = "192.0.2.10"

[network]
dns = "192.0.2.53"

[[network.servers]]
name = "mx1"
hostname = "mx1.remote.test"
address = "198.51.100.10"
domains = ["remote.test"]
mode = "verify"
"""


def _lab(tmp_path, text):
    folder = tmp_path / "07-net"
    folder.mkdir()
    (folder / "lab.toml").write_text(textwrap.dedent(text))
    return course.load(folder)


def test_a_verifying_server_of_a_lab_gets_the_labs_dns_server(tmp_path):
    node = _lab(tmp_path, LAB).network.node("mx1")
    assert node.server == {"domains": ["remote.test"], "mode": "verify", "reject": [], "dns": "192.0.2.53"}
    # As sandbox/network.py writes the server's settings file: the node's settings merged in as they are.
    config = from_dict({"name": "mx1", "hostname": node.hostname, "listen": [node.address, 25],
                        "spool": "/x/spool", "ready": "/x/ready", **node.server})
    assert config.dns == "192.0.2.53" and config.mode == "verify"


def test_a_verifying_server_in_a_lab_without_dns_is_refused_with_its_line(tmp_path):
    with pytest.raises(MailLabError) as caught:
        _lab(tmp_path, LAB.replace('dns = "192.0.2.53"\n', 'client = "203.0.113.10"\n'))
    message = str(caught.value)
    line = LAB.splitlines().index('mode = "verify"') + 1
    assert f"line {line}:" in message and "mail server mx1 verifies senders and needs the lab's `dns`." in message


def test_the_reader_takes_what_it_can_of_garbage_verdicts(tmp_path):
    data = b"From: a@x.test\r\nSubject: s\r\n\r\nbody\r\n"
    for queue_id, verdicts in [("A1", {"spf": {"result": "pass", "n": 3}, "dkim": "x", "7": None}),
                               ("A2", ["not", "a", "dict"]), ("A3", None)]:
        entry = record(queue_id=queue_id, server="mx1", received=f"2024-01-01T00:00:0{queue_id[1]}",
                       client=("127.0.0.1", 1), helo="h", mail_from="a@x.test", mail_options=[],
                       rcpt_tos=["b@remote.test"], data=data)
        entry["verdicts"] = verdicts
        store(tmp_path, entry, data)
    read = {m.queue_id: m.verdicts for m in messages(tmp_path)}
    assert read == {"A1": {"spf": {"result": "pass"}}, "A2": None, "A3": None}


# -- end to end: dnsmasq and a server process on loopback ---------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        return udp.getsockname()[1]


def _keypair(bits: int = 2048) -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(public).decode("ascii")


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    length = bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + body


def _rsa_spki(modulus: int, exponent: int) -> str:
    """A SubjectPublicKeyInfo with any numbers in it (what a hostile DNS answer may hold), base64."""
    def integer(value: int) -> bytes:
        return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))
    algorithm = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
    key = _der(0x30, integer(modulus) + integer(exponent))
    return base64.b64encode(_der(0x30, algorithm + _der(0x03, b"\x00" + key))).decode("ascii")


def _txt_line(name: str, text: str) -> str:
    parts = [text[i:i + 250] for i in range(0, len(text), 250)] or [""]
    return f"txt-record={name}," + ",".join(f'"{part}"' for part in parts)


GOOD_KEY, GOOD_PUBLIC = _keypair()
OTHER_KEY, _OTHER_PUBLIC = _keypair()
HUGE_MODULUS = (1 << 8191) | 1
RECORDS = {
    "good.test": "v=spf1 ip4:127.0.0.1 -all",
    "mail._domainkey.good.test": f"v=DKIM1; k=rsa; p={GOOD_PUBLIC}",
    "_dmarc.good.test": "v=DMARC1; p=reject",
    "other.test": "v=spf1 ip4:192.0.2.1 -all",
    "broken.test": "v=spf1 ip4:127.0.0.1 bogus:thing -all",
    "_dmarc.broken.test": "v=DMARC1; p=quarantine",
    "sub.strict.test": "v=spf1 ip4:127.0.0.1 -all",
    "_dmarc.strict.test": "v=DMARC1; p=quarantine; aspf=s; adkim=s",
    "long.good.test": "x" * 900,
    "power._domainkey.good.test": f"v=DKIM1; k=rsa; p={_rsa_spki((1 << 2047) | 1, (1 << 2000) + 1)}",
}


@pytest.fixture(scope="module")
def lab_dns(tmp_path_factory):
    """A dnsmasq on 127.0.0.1 answering for the test zones: (address, port)."""
    folder = tmp_path_factory.mktemp("dns").resolve()
    port = _free_port()
    lines = ["no-resolv", "no-hosts", "no-poll", "bind-interfaces", "listen-address=127.0.0.1", f"port={port}",
             f"pid-file={folder / 'dnsmasq.pid'}", f"log-facility={folder / 'queries.log'}", "log-queries",
             "local=/test/", "edns-packet-max=512"]  # a 4096-bit key's answer comes over TCP
    lines += [_txt_line(name, text) for name, text in RECORDS.items()]
    conf = folder / "dnsmasq.conf"
    conf.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(["dnsmasq", "--keep-in-foreground", f"--conf-file={conf}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                assert LabDNS("127.0.0.1", port).txt("good.test") == [RECORDS["good.test"]]
                break
            except LookupFailed:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dnsmasq did not start: {process.stderr.read()}") from None
                time.sleep(0.05)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_lookup_asks_the_given_server_and_takes_a_truncated_answer_over_tcp(lab_dns):
    lookup = LabDNS(*lab_dns)
    assert lookup.txt("long.good.test") == ["x" * 900]  # over dnsmasq's 512 bytes here: asked again over TCP
    assert lookup.txt("nothing.good.test") == [] and lookup.query("good.test", "MX") == []
    assert lookup.queries == 3


class Hostile:
    """A DNS server a learner could run: answers TXT questions from a dict, whatever they hold
    (dnsmasq takes no line over about 2000 characters). A thread of this process, stopped by stop()."""

    def __init__(self, records: dict[str, str]) -> None:
        self.records, self.running = records, True
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                wire, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            question = query.question[0]
            text = self.records.get(question.name.to_text(True).lower())
            if text is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT:
                strings = [text[i:i + 255].encode() for i in range(0, len(text), 255)]
                rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings)
                response.answer.append(dns.rrset.from_rdata(question.name, 5, rdata))
            self.sock.sendto(response.to_wire(max_size=65535), peer)

    def stop(self) -> None:
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()


class Server:
    def __init__(self, folder: Path, dns: tuple[str, int], **settings) -> None:
        self.spool, ready = folder / "spool", folder / "ready"
        config = {"name": "mx1", "hostname": "mx1.remote.test", "listen": ["127.0.0.1", 0],
                  "domains": ["remote.test"], "mode": "verify", "dns": dns[0], "dns_port": dns[1],
                  "spool": str(self.spool), "ready": str(ready), **settings}
        (folder / "mx1.json").write_text(json.dumps(config))
        self.process = subprocess.Popen([sys.executable, "-m", "sandbox.mailserver", str(folder / "mx1.json")],
                                        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.host, self.port = wait_ready(ready, self.process, timeout=20)

    def send(self, message: bytes, mail_from: str, *, source: str = "127.0.0.1", helo: str = "mail.good.test"):
        """Sends one message; returns the verdicts stored with it."""
        with smtplib.SMTP(self.host, self.port, local_hostname=helo, timeout=30,
                          source_address=(source, 0)) as client:
            client.ehlo()
            code, reply = client.mail(mail_from)
            assert code == 250, reply
            client.rcpt("bob@remote.test")
            code, reply = client.data(message)
        assert code == 250, reply
        queue_id = reply.decode().rsplit(" ", 1)[1]
        return find(self.spool, queue_id=queue_id).verdicts

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.communicate(timeout=20)


@pytest.fixture
def server(tmp_path, lab_dns):
    started = []

    def start(dns=lab_dns, **settings) -> Server:
        folder = tmp_path / f"server{len(started)}"
        folder.mkdir()
        started.append(Server(folder, dns, **settings))
        return started[-1]

    try:
        yield start
    finally:
        for each in started:
            each.stop()


def _message(sender: str, body: bytes = b"Hello Bob.\r\n", subject: str = "Hi") -> bytes:
    return (f"From: Alice <{sender}>\r\nTo: bob@remote.test\r\nSubject: {subject}\r\n"
            f"Message-Id: <{time.monotonic_ns()}@{sender.rpartition('@')[2]}>\r\n\r\n").encode() + body


def _signed(message: bytes, key: bytes = GOOD_KEY, selector: bytes = b"mail", domain: bytes = b"good.test"):
    signature = dkim.sign(message, selector, domain, key, include_headers=[b"from", b"to", b"subject"])
    return signature + message


def test_a_message_signed_and_sent_as_declared_passes_spf_dkim_and_dmarc(server):
    verdicts = server().send(_signed(_message("alice@good.test")), "alice@good.test")
    assert verdicts["spf"] == {"result": "pass", "domain": "good.test", "explanation": "sender SPF authorized"}
    assert verdicts["dkim"] == {"result": "pass", "domain": "good.test", "selector": "mail",
                                "reason": "signature verified"}
    assert verdicts["dmarc"] == {"result": "pass", "domain": "good.test", "policy": "reject",
                                 "reason": "SPF passed for good.test, aligned with good.test"}


def test_a_wrong_key_a_changed_body_and_a_sender_spf_refuses(server):
    mx = server()
    forged = mx.send(_signed(_message("alice@good.test"), key=OTHER_KEY), "bounce@other.test")
    assert forged["spf"]["result"] == "fail" and forged["spf"]["domain"] == "other.test"
    assert forged["dkim"] == {"result": "fail", "domain": "good.test", "selector": "mail",
                              "reason": "signature did not verify"}
    assert forged["dmarc"]["result"] == "fail" and forged["dmarc"]["policy"] == "reject"
    assert "SPF fail for other.test" in forged["dmarc"]["reason"]
    changed = _signed(_message("alice@good.test")).replace(b"Hello Bob.", b"Hello Eve.")
    verdicts = mx.send(changed, "bounce@other.test")
    assert verdicts["dkim"]["result"] == "fail" and verdicts["dkim"]["reason"] == "body hash did not match"


def test_an_unsigned_message_from_an_address_spf_does_not_list(server):
    verdicts = server().send(_message("alice@good.test"), "alice@good.test", source="127.0.0.2")
    assert verdicts["spf"]["result"] == "fail"
    assert verdicts["dkim"] == {"result": "none", "domain": "", "selector": "",
                                "reason": "the message has no DKIM-Signature"}
    assert verdicts["dmarc"]["result"] == "fail"


def test_a_selector_without_a_key_a_broken_spf_record_and_strict_alignment(server):
    mx = server()
    verdicts = mx.send(_signed(_message("alice@broken.test"), selector=b"missing", domain=b"broken.test"),
                       "alice@broken.test")
    assert verdicts["dkim"] == {"result": "permerror", "domain": "broken.test", "selector": "missing",
                                "reason": "no key at missing._domainkey.broken.test"}
    assert verdicts["spf"]["result"] == "permerror" and "bogus:thing" in verdicts["spf"]["explanation"]
    assert verdicts["dmarc"]["result"] == "fail" and verdicts["dmarc"]["policy"] == "quarantine"
    strict = mx.send(_message("alice@strict.test"), "bounce@sub.strict.test")
    assert strict["spf"]["result"] == "pass"
    assert strict["dmarc"]["result"] == "fail" and "not aligned (strict)" in strict["dmarc"]["reason"]
    none = mx.send(_message("alice@nowhere.test"), "alice@good.test")
    assert none["dmarc"] == {"result": "none", "domain": "nowhere.test", "policy": "",
                             "reason": "no DMARC record at _dmarc.nowhere.test"}


def test_garbage_signatures_and_hostile_keys_get_verdicts_and_the_server_goes_on(server):
    mx = server()
    garbage = b"DKIM-Signature: \x01nonsense;;; ===\r\n" + _message("alice@good.test")
    assert mx.send(garbage, "alice@good.test")["dkim"]["result"] == "permerror"
    started = time.monotonic()
    verdicts = mx.send(_signed(_message("alice@good.test"), selector=b"power"), "alice@good.test")
    assert verdicts["dkim"] == {"result": "permerror", "domain": "good.test", "selector": "power",
                                "reason": "the key at power._domainkey.good.test has an unusable RSA exponent"}
    assert verdicts["dmarc"]["result"] == "pass"  # SPF still passes, aligned
    assert time.monotonic() - started < 5
    headless = b" starts folded\r\nFrom: a@good.test\r\n\r\nx\r\n"
    assert set(mx.send(headless, "alice@good.test")) == {"spf", "dkim", "dmarc"}
    after = mx.send(_signed(_message("alice@good.test")), "alice@good.test")
    assert after["dkim"]["result"] == "pass" and mx.process.poll() is None
    assert len(messages(mx.spool)) == 4


def test_a_hostile_dns_server_with_huge_records(server):
    hostile = Hostile(RECORDS | {"big._domainkey.good.test": "v=DKIM1; k=rsa; p=" + "A" * 3000,
                                 "huge._domainkey.good.test": "v=DKIM1; k=rsa; p=" + "A" * 20000,
                                 "wide._domainkey.good.test": f"v=DKIM1; k=rsa; p={_rsa_spki(HUGE_MODULUS, 65537)}"})
    try:
        mx = server(dns=hostile.sock.getsockname())
        big = mx.send(_signed(_message("alice@good.test"), selector=b"big"), "alice@good.test")
        assert big["dkim"] == {"result": "permerror", "domain": "good.test", "selector": "big",
                               "reason": "key too large at big._domainkey.good.test"}
        wide = mx.send(_signed(_message("alice@good.test"), selector=b"wide"), "alice@good.test")
        assert wide["dkim"]["result"] == "permerror"
        assert wide["dkim"]["reason"] == "key too large at wide._domainkey.good.test (8192 bits; at most 4096)"
        huge = mx.send(_signed(_message("alice@good.test"), selector=b"huge"), "alice@good.test")
        assert huge["dkim"]["result"] == "temperror" and "too large" in huge["dkim"]["reason"]
        assert mx.send(_signed(_message("alice@good.test")), "alice@good.test")["dkim"]["result"] == "pass"
    finally:
        hostile.stop()


def test_a_ten_mebibyte_message_gets_its_verdict_in_reasonable_time(server):
    mx = server(size_limit=15 * 2**20)
    body = (b"x" * 998 + b"\r\n") * (10 * 2**20 // 1000)
    started = time.monotonic()
    verdicts = mx.send(_signed(_message("alice@good.test", body=body)), "alice@good.test")
    assert verdicts["dkim"]["result"] == "pass" and verdicts["dmarc"]["result"] == "pass"
    assert time.monotonic() - started < 20


def test_a_dns_server_that_never_answers_gives_temperror_within_the_bound(server):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        mx = server(dns=silent.getsockname())
        started = time.monotonic()
        verdicts = mx.send(_signed(_message("alice@good.test")), "alice@good.test")
        took = time.monotonic() - started
    finally:
        silent.close()
    assert {v["result"] for v in verdicts.values()} == {"temperror"}
    assert "did not answer in time" in verdicts["spf"]["explanation"]
    assert 5 < took < 10


def test_a_dns_port_nobody_listens_on_gives_temperror_after_each_lookups_timeout(server):
    mx = server(dns=("127.0.0.1", _free_port()))
    started = time.monotonic()
    verdicts = mx.send(_message("alice@good.test"), "alice@good.test")
    assert verdicts["spf"]["result"] == "temperror" and "did not answer in time" in verdicts["spf"]["explanation"]
    assert verdicts["dkim"]["result"] == "none"  # no signature: nothing to look up
    assert verdicts["dmarc"] == {"result": "temperror", "reason": "DMARC lookup at _dmarc.good.test failed: "
                                                                  "the DNS server 127.0.0.1 did not answer in time"}
    assert time.monotonic() - started < 6  # two lookups of at most 2 s each
