"""Does any output or file content, however garbled, give the grader's parsers a value and never an
exception? Property-based: hypothesis writes the garbage, near-misses of the real formats included."""
from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from grader.testing import FakeBackend
from grader.mailbox import Mailbox, MailMessage, Maildir, split_mbox
from grader.maillog import MailLog, find_verification, follow, outcome_of, parse_line, parse_lines
from grader.probes import (parse_dpkg_query, parse_getent_passwd, parse_postconf_m, parse_postconf_n,
                           parse_postqueue_json, parse_ps, parse_ss)

# Text the way a command's output reaches a parser: bytes decoded leniently.
raw_bytes = st.binary(max_size=2000)
decoded = raw_bytes.map(lambda b: b.decode("utf-8", "replace"))
# Digits of other scripts pass str.isdigit() and \d; int() refuses some of them ("²").
tricky_chars = st.sampled_from(list("0123456789²³¹٣߁０:\t \n\r\x00\x85\u2028=<>[](),\"'@.-/"))
tricky = st.lists(st.one_of(tricky_chars, st.characters()), max_size=300).map("".join)
text = st.one_of(decoded, tricky, st.text(max_size=500))

REAL_LOG = (
    "2026-11-30T09:00:00.123456+00:00 mail postfix/pickup[811]: 4F1A2B3C4D: uid=0 from=<root>\n"
    "2026-11-30T09:00:00.124+00:00 mail postfix/cleanup[812]: 4F1A2B3C4D: message-id=<a@b.test>\n"
    "2026-11-30T09:00:00.200+00:00 mail postfix/local[814]: 4F1A2B3C4D: to=<root@example.test>,"
    " orig_to=<root>, relay=local, delay=0.1, delays=0/0/0/0, dsn=2.0.0, status=sent"
    " (delivered to mailbox)\n")


def mutate(base: str):
    """The real format, cut and spliced with garbage: the near-misses real parsers meet."""
    return st.tuples(st.integers(0, len(base)), st.integers(0, len(base)), text).map(
        lambda t: base[: t[0]] + t[2] + base[t[1]:])


@given(st.one_of(text, mutate(REAL_LOG)))
@example("Nov 30 09:00:00 mail postfix/local[²]: 4F1A2B3C4D: to=<a>, status=sent (x)")
def test_mail_log_lines_parse_or_are_skipped(garbage):
    for line in parse_lines(garbage):
        assert isinstance(line.raw, str) and "\n" not in line.raw
        line.fields  # noqa: B018 - must not raise
        outcome = outcome_of(line)
        if outcome is not None:
            outcome.describe()
            outcome.queued_as  # noqa: B018
    delivery = follow(parse_lines(garbage), "<a@b.test>", ["root", "x@y.test"])
    delivery.summary()
    assert isinstance(delivery.complete, bool)
    find_verification(parse_lines(garbage), "root")


@given(st.one_of(text, mutate(REAL_LOG)))
def test_a_single_line_parses_or_is_none(garbage):
    line = parse_line(garbage)
    assert line is None or (line.pid is None or line.pid >= 0)


@given(raw_bytes, st.integers(0, 3000))
def test_mail_log_read_from_any_mark_is_text(content, mark):
    fake = FakeBackend({"/var/log/mail.log": content})
    log = MailLog(fake, limit=512)
    got = log.text(since=mark)
    assert isinstance(got, str) and (got == "" or got.endswith("\n"))
    assert len(got.encode("utf-8", "replace")) <= 3 * 512  # each byte at most one replacement char
    log.follow("<x@y>", ["root"], since=mark).summary()


MBOX = (b"From root@example.test  Mon Nov 30 09:00:00 2026\nMessage-Id: <a@b.test>\nSubject: hi\n\nbody\n\n"
        b"From MAILER-DAEMON  Mon Nov 30 09:00:01 2026\nSubject: x\n\n>From the text\n\n")


@given(st.one_of(raw_bytes, st.tuples(st.integers(0, len(MBOX)), raw_bytes).map(
    lambda t: MBOX[: t[0]] + t[1] + MBOX[t[0]:])), st.booleans())
def test_any_mbox_splits_into_readable_messages(data, partial):
    for raw in split_mbox(data, partial_start=partial):
        message = MailMessage("/var/mail/root", raw)
        message.message_id, message.subject, message.tag, message.body  # noqa: B018


@given(raw_bytes, st.integers(1, 4096))
def test_mailbox_and_maildir_over_garbage(data, limit):
    fake = FakeBackend({"/var/mail/root": data, "/home/a/Maildir/new/1.x": data,
                        "/home/a/Maildir/cur/2.x:2,S": data[::-1]})
    fake.add_dir("/home/a/Maildir/tmp")
    for folder in (Mailbox(fake, "/var/mail/root", limit=limit), Maildir(fake, "/home/a/Maildir", limit=limit)):
        folder.describe()
        folder.find("<a@b.test>")
        folder.find_tag("abc")
        assert all(len(m.raw) <= max(limit, len(data)) for m in folder.messages())


@given(text, st.integers(-5, 300))
def test_dpkg_query_output(out, code):
    pkg = parse_dpkg_query("postfix", code, out, out[::-1])
    assert isinstance(pkg.installed, bool) and isinstance(pkg.status, str)


@given(st.one_of(text, mutate("alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n")))
@example("alice:x:²:1000::/home/alice:/bin/sh")
@example("alice:x:-1:99999999999999999999::/home/alice:/bin/sh")
def test_getent_passwd_output(out):
    user = parse_getent_passwd("alice", out)
    assert user.exists is (user.uid is not None)


@given(st.one_of(text, mutate("  PID USER   COMMAND  COMMAND\n  812 root   master   /usr/lib/postfix/sbin/master -w\n")))
@example("²³ root master /usr/lib/postfix/sbin/master")
def test_ps_output(out):
    for process in parse_ps(out):
        assert process.pid >= 0 and process.comm


@given(st.one_of(text, mutate('LISTEN 0 100 0.0.0.0:25 0.0.0.0:* users:(("master",pid=812,fd=13))\n')))
@example("LISTEN 0 100 0.0.0.0:²⁵ 0.0.0.0:*")
def test_ss_output(out):
    for socket in parse_ss(out, "tcp"):
        assert 0 <= socket.port
        socket.describe()


@given(text, text)
def test_postconf_n_output(out, err):
    lint = parse_postconf_n(out, err)
    lint.describe()
    assert isinstance(lint.clean, bool)


MASTER = ("smtp       inet  n       -       y       -       1       postscreen\n"
          "smtpd      pass  -       -       y       -       -       smtpd\n"
          "submission inet  n       -       y       -       -       smtpd\n"
          "    -o syslog_name=postfix/submission\n")


@given(st.one_of(text, mutate(MASTER)))
def test_postconf_m_output(out):
    for service in parse_postconf_m(out):
        assert service.name and service.type and service.command
        assert isinstance(service.port, str)


def test_postconf_m_reads_services_and_their_options():
    services = parse_postconf_m(MASTER + "192.0.2.10:smtp inet n - y - - smtpd\n")
    assert [(s.name, s.type, s.command, s.port) for s in services] == [
        ("smtp", "inet", "postscreen", "smtp"), ("smtpd", "pass", "smtpd", "smtpd"),
        ("submission", "inet", "smtpd", "submission"), ("192.0.2.10:smtp", "inet", "smtpd", "smtp")]
    assert services[2].line.endswith("smtpd -o syslog_name=postfix/submission")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["queue_id", "queue_name", "sender", "recipients", "address", "delay_reason",
                         "arrival_time", "message_size", "x"]), inner, max_size=6),
    max_leaves=20)


@given(st.lists(st.one_of(json_values.map(json.dumps), text), max_size=6))
@example(['{"queue_id": "ABC", "recipients": [{"address": "a@b"}, 3, null]}', "[1, 2]", "7"])
@settings(max_examples=300)
def test_postqueue_json_output(lines):
    for message in parse_postqueue_json("\n".join(lines)):
        message.describe()
        assert all(isinstance(r.address, str) for r in message.recipients)


HOP_LOG = REAL_LOG.replace("relay=local", "relay=mx1.remote.test[198.51.100.10]:25").replace(
    "(delivered to mailbox)", "(250 2.0.0 Ok: queued as 9C8B7A6F5E)")


@given(st.lists(st.one_of(text, mutate(REAL_LOG), mutate(HOP_LOG)), min_size=1, max_size=3),
       st.one_of(st.none(), st.just("<a@b.test>"), text))
def test_mail_flow_is_drawn_or_explained(logs, message_id):
    """lab.mailflow() over any logs: a picture and sentences, or NoMessage (shown as a sentence)."""
    from grader.mailflow import NoMessage, journey_html, trace

    try:
        journey = trace([(f"mail{n}", log) for n, log in enumerate(logs)], message_id)
    except NoMessage as exc:
        assert str(exc)
        return
    journey.sentences()
    journey_html(journey)


LIVENESS = ("100 5000.25 1764493200.123\n"
            " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 12345 0 0\n"
            "1764493100.5 /etc/postfix/main.cf\n- /etc/postfix/master.cf\n")


@given(st.one_of(text, mutate(LIVENESS), st.lists(st.sampled_from(["0", "-1", "nan", "inf", "1e308", "-", "x", "\n"]),
                                                  min_size=4, max_size=30).map(" ".join)))
@example("0 5000 1764493200\n S " + "1 " * 18 + "12345\n1764493100 /etc/postfix/main.cf\n")
def test_main_cf_liveness_output(out):
    """Is main.cf live, over whatever the probe's shell printed (getconf, date, stat or /proc replaced)?"""
    from grader.liveconf import parse_liveness

    found = parse_liveness(out)
    assert isinstance(found.live, bool)
    found.changed  # noqa: B018


def _pem_pair() -> tuple[bytes, bytes]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("mail.example.test")]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


CERT_PEM, KEY_PEM = _pem_pair()


def _bytes_mutation(base: bytes):
    return st.tuples(st.integers(0, len(base)), st.integers(0, len(base)), raw_bytes).map(
        lambda t: base[: t[0]] + t[2] + base[t[1]:])


@given(st.one_of(raw_bytes, _bytes_mutation(CERT_PEM + KEY_PEM), _bytes_mutation(KEY_PEM)))
@example(b"junk-----BEGIN A\n-----BEGIN B\n-----END ")
@settings(max_examples=300)
def test_certificate_and_key_files_of_any_content(data):
    """A learner's certificate or key file, however broken: a Certificate or NotACertificate, in bounded time."""
    import signal

    from grader.certs import NotACertificate, key_matches, load_certificate, load_chain

    def too_long(*_):
        raise TimeoutError("the certificate probe did not finish within 5 s")

    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(5)
    try:
        certificate = load_certificate(CERT_PEM)
        try:
            key_matches(certificate, data)
        except NotACertificate:
            pass
        assert all(c.fingerprint for c in load_chain(data))
        try:
            found = load_certificate(data)
        except NotACertificate:
            return
        found.names, found.self_signed, found.expired(), found.valid_for("mail.example.test")  # noqa: B018
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
