"""The lab's remote mail servers: real processes on 127.0.0.1, spoken to with smtplib and raw sockets."""
from __future__ import annotations

import json
import re
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sandbox.errors import SandboxError
from sandbox.mailserver.server import WORDS, greeting_words
from sandbox.mailserver import Received, find, messages
from sandbox.mailserver.config import ConfigError, from_dict
from sandbox.mailserver.server import wait_ready
from sandbox.mailserver import spool as spoolmod
from sandbox.mailserver.spool import parse_headers, record, store

ROOT = Path(__file__).resolve().parents[2]
MESSAGE = ("From: alice@client.example\r\nTo: bob@remote.test\r\nSubject: Hello\r\n"
           "Message-Id: <m1@client.example>\r\n\r\nHi Bob.\r\n")


class MailServer:
    def __init__(self, tmp_path: Path, **settings) -> None:
        self.spool = tmp_path / "spool"
        self.ready = tmp_path / "ready"
        self.config = {"name": "mx1", "hostname": "mx1.remote.test", "listen": ["127.0.0.1", 0],
                       "domains": ["remote.test"], "mode": "accept", "reject": ["nobody@remote.test"],
                       "spool": str(self.spool), "ready": str(self.ready), **settings}
        path = tmp_path / "mx1.json"
        path.write_text(json.dumps(self.config))
        self.process = subprocess.Popen([sys.executable, "-m", "sandbox.mailserver", str(path)], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.host, self.port = wait_ready(self.ready, self.process, timeout=20)

    def smtp(self) -> smtplib.SMTP:
        return smtplib.SMTP(self.host, self.port, local_hostname="mail.client.example", timeout=5)

    def raw(self) -> "Raw":
        return Raw(socket.create_connection((self.host, self.port), timeout=5))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.communicate(timeout=10)


class Raw:
    """A client speaking SMTP by hand, like a learner with nc: sends bytes, reads whole replies."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file = sock.makefile("rb")

    def reply(self) -> list[str]:
        lines = []
        while True:
            line = self.file.readline().decode()
            assert line.endswith("\r\n"), f"incomplete reply line {line!r}"
            lines.append(line[:-2])
            if line[3:4] != "-":
                return lines

    def say(self, data: bytes) -> list[str]:
        self.sock.sendall(data)
        return self.reply()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def start(tmp_path):
    servers = []

    def start_server(**settings) -> MailServer:
        folder = tmp_path / f"server{len(servers)}"
        folder.mkdir()
        server = MailServer(folder, **settings)
        servers.append(server)
        return server

    yield start_server
    for server in servers:
        server.stop()


def test_accepted_mail_is_stored_with_everything_the_grader_follows(start):
    """Does an accepted message keep its envelope, client, headers and the queue id told to the client?"""
    server = start()
    with server.smtp() as client:
        client.ehlo()
        local_port = client.sock.getsockname()[1]
        assert client.mail("alice@client.example", ["SIZE=200", "BODY=8BITMIME"]) == (250, b"2.1.0 Ok")
        assert client.rcpt("bob@remote.test") == (250, b"2.1.5 Ok")
        assert client.rcpt("Carol@REMOTE.test") == (250, b"2.1.5 Ok")
        code, text = client.data(MESSAGE.encode())
    assert code == 250
    assert text.decode().startswith("2.0.0 Ok: queued as ")
    queue_id = text.decode().rsplit(" ", 1)[1]
    [stored] = messages(server.spool)
    assert stored.queue_id == queue_id and stored.server == "mx1"
    assert (server.spool / f"{queue_id}.json").is_file() and stored.path == server.spool / f"{queue_id}.json"
    received = datetime.fromisoformat(stored.received)
    assert received.tzinfo is not None and received.utcoffset().total_seconds() == 0
    assert abs((datetime.now(timezone.utc) - received).total_seconds()) < 60
    assert (stored.client_address, stored.client_port) == ("127.0.0.1", local_port)
    assert stored.helo == "mail.client.example"
    assert stored.mail_from == "alice@client.example"
    assert stored.mail_options == ["SIZE=200", "BODY=8BITMIME"]
    assert stored.rcpt_tos == ["bob@remote.test", "Carol@REMOTE.test"]
    assert stored.raw == MESSAGE and stored.data == MESSAGE.encode() and stored.size == len(MESSAGE)
    assert stored.headers[:3] == [("From", "alice@client.example"), ("To", "bob@remote.test"), ("Subject", "Hello")]
    assert stored.message_id == "m1@client.example" and stored.subject == "Hello" and stored.body == "Hi Bob.\n"
    assert stored.transcript is None and stored.raw_base64 is None
    assert find(server.spool, queue_id=queue_id) == stored
    assert find(server.spool, message_id="<m1@client.example>") == stored
    assert find(server.spool, queue_id=queue_id, message_id="m1@client.example") == stored
    assert find(server.spool, queue_id=queue_id, message_id="other@client.example") is None
    assert find(server.spool, message_id="missing@client.example") is None


def test_the_banner_and_ehlo_name_the_server(start):
    server = start()
    raw = server.raw()
    assert raw.reply() == ["220 mx1.remote.test ESMTP"]
    assert raw.say(b"EHLO me.example\r\n") == ["250-mx1.remote.test", "250-SIZE 10485760", "250-8BITMIME",
                                                  "250-SMTPUTF8", "250 HELP"]
    raw.close()


def test_other_domains_unknown_users_and_unqualified_addresses_are_refused_like_postfix(start):
    server = start()
    with server.smtp() as client:
        client.ehlo()
        client.mail("alice@client.example")
        assert client.rcpt("bob@elsewhere.test") == (554, b"5.7.1 <bob@elsewhere.test>: Relay access denied")
        assert client.rcpt("bob@sub.remote.test")[0] == 554
        assert client.rcpt("Nobody@Remote.Test") == (
            550, b"5.1.1 <Nobody@Remote.Test>: Recipient address rejected: User unknown")
        assert client.rcpt("bob") == (504, b"5.5.2 <bob>: Recipient address rejected: need fully-qualified address")
        assert client.docmd("DATA")[0] == 503  # no recipient was accepted
    assert messages(server.spool) == []


def test_reject_mode_refuses_every_recipient(start):
    server = start(mode="reject", reject=[])
    with server.smtp() as client:
        client.ehlo()
        client.mail("alice@client.example")
        assert client.rcpt("bob@remote.test") == (
            550, b"5.1.1 <bob@remote.test>: Recipient address rejected: User unknown")
        assert client.rcpt("bob@elsewhere.test")[0] == 554
        client.rset()
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("alice@client.example", ["carol@remote.test"], MESSAGE)
    assert messages(server.spool) == []


def test_greylist_mode_defers_a_new_triple_then_accepts_it_after_the_delay(start):
    """Is the first try of (client, sender, recipient) told 450, and a retry after greylist_seconds accepted?"""
    server = start(mode="greylist", greylist_seconds=0.5)
    greylisted = (450, b"4.7.1 <bob@remote.test>: Recipient address rejected: Greylisted, try again later")
    with server.smtp() as client:
        client.ehlo()
        client.mail("alice@client.example")
        assert client.rcpt("bob@remote.test") == greylisted
        assert client.rcpt("bob@remote.test") == greylisted  # too soon
        assert client.rcpt("nobody@remote.test")[0] == 550  # unknown users are not greylisted, just refused
    time.sleep(0.6)
    with server.smtp() as client:
        client.ehlo()
        client.mail("alice@client.example")
        assert client.rcpt("bob@remote.test") == (250, b"2.1.5 Ok")
        assert client.rcpt("carol@remote.test")[0] == 450  # another recipient: another triple
        code, text = client.data(MESSAGE)
        assert code == 250
    client2 = server.smtp()
    client2.ehlo()
    client2.mail("dave@client.example")
    assert client2.rcpt("bob@remote.test")[0] == 450  # another sender: another triple
    client2.quit()
    [stored] = messages(server.spool)
    assert stored.rcpt_tos == ["bob@remote.test"]


def test_capture_mode_records_exactly_what_crossed_the_wire(start):
    """Does capture keep every client line (bare LF as sent) and every reply, in order?"""
    server = start(mode="capture")
    raw = server.raw()
    greeting = raw.reply()[0]
    word = re.search(r"put the word '([a-z]+)' in your Subject", greeting)[1]  # new for each connection
    assert greeting == f"220 mx1.remote.test {greeting_words(word)}" and word in WORDS
    raw.say(b"HELO learner.example\n")
    raw.say(b"MAIL FROM:<alice@client.example>\r\n")
    raw.say(b"RCPT TO:<nobody@remote.test>\n")
    raw.say(b"RCPT TO:<bob@remote.test>\n")
    raw.say(b"DATA\n")
    reply = raw.say(b"Subject: by hand\n\nline one\n..dot\n.\n")
    raw.close()
    queue_id = reply[0].rsplit(" ", 1)[1]
    stored = find(server.spool, queue_id=queue_id)
    assert stored.transcript == [
        ("server", f"{greeting}\r\n"),
        ("client", "HELO learner.example\n"),
        ("server", "250 mx1.remote.test\r\n"),
        ("client", "MAIL FROM:<alice@client.example>\r\n"),
        ("server", "250 2.1.0 Ok\r\n"),
        ("client", "RCPT TO:<nobody@remote.test>\n"),
        ("server", "550 5.1.1 <nobody@remote.test>: Recipient address rejected: User unknown\r\n"),
        ("client", "RCPT TO:<bob@remote.test>\n"),
        ("server", "250 2.1.5 Ok\r\n"),
        ("client", "DATA\n"),
        ("server", "354 End data with <CR><LF>.<CR><LF>\r\n"),
        ("client", "Subject: by hand\n"),
        ("client", "\n"),
        ("client", "line one\n"),
        ("client", "..dot\n"),
        ("client", ".\n"),
        ("server", f"250 2.0.0 Ok: queued as {queue_id}\r\n"),
    ]
    assert stored.raw == "Subject: by hand\r\n\r\nline one\r\n.dot\r\n"
    assert stored.helo == "learner.example" and stored.rcpt_tos == ["bob@remote.test"]


def test_smtp_by_hand_with_bare_line_feeds_split_across_packets(start):
    """A learner with nc sends LF line ends, in pieces: the server still ends DATA at "\\n.\\n"."""
    server = start()
    raw = server.raw()
    assert raw.reply()[0].startswith("220 ")
    assert raw.say(b"ehlo learner.example\n")[-1] == "250 HELP"
    assert raw.say(b"mail from: <alice@client.example>\n") == ["250 2.1.0 Ok"]
    assert raw.say(b"rcpt to: <bob@remote.test>\n") == ["250 2.1.5 Ok"]
    assert raw.say(b"data\n")[0].startswith("354 ")
    raw.sock.sendall(b"Subject: pieces\r")
    time.sleep(0.05)
    raw.sock.sendall(b"\n\nmixed\r\nends\n")
    time.sleep(0.05)
    reply = raw.say(b".\n")
    assert reply[0].startswith("250 2.0.0 Ok: queued as ")
    assert raw.say(b"quit\n") == ["221 Bye"]
    raw.close()
    [stored] = messages(server.spool)
    assert stored.raw == "Subject: pieces\r\n\r\nmixed\r\nends\r\n"
    assert stored.transcript is None


def test_null_sender_and_bytes_that_are_not_utf8_are_kept(start):
    server = start()
    data = b"Subject: caf\xe9\r\nMessage-Id: <latin1@client.example>\r\n\r\nna\xefve \xff\r\n"
    with server.smtp() as client:
        client.ehlo()
        assert client.mail("")[0] == 250
        client.rcpt("bob@remote.test")
        assert client.data(data)[0] == 250
    [stored] = messages(server.spool)
    assert stored.mail_from == ""
    assert stored.data == data and stored.size == len(data)
    assert stored.raw_base64 is not None and "\ufffd" in stored.raw
    assert stored.message_id == "latin1@client.example"


def test_international_addresses_with_smtputf8(start):
    server = start(mode="capture")
    raw = server.raw()
    raw.reply()
    assert "250-SMTPUTF8" in raw.say(b"EHLO client.example\r\n")
    assert raw.say("MAIL FROM:<zoë@client.example> SMTPUTF8\r\n".encode()) == ["250 2.1.0 Ok"]
    assert raw.say("RCPT TO:<jürgen@remote.test>\r\n".encode()) == ["250 2.1.5 Ok"]
    raw.say(b"DATA\r\n")
    raw.say("Subject: grüße\r\n\r\nHallo.\r\n.\r\n".encode())
    raw.close()
    [stored] = messages(server.spool)
    assert (stored.mail_from, stored.rcpt_tos, stored.mail_options) == (
        "zoë@client.example", ["jürgen@remote.test"], ["SMTPUTF8"])
    assert stored.subject == "grüße" and ("client", "RCPT TO:<jürgen@remote.test>\r\n") in stored.transcript


def test_two_messages_in_one_session_get_their_own_queue_ids(start):
    server = start()
    with server.smtp() as client:
        client.sendmail("alice@client.example", ["bob@remote.test"], MESSAGE)
        client.sendmail("alice@client.example", ["carol@remote.test"], MESSAGE.replace("m1@", "m2@"))
    first, second = messages(server.spool)
    assert first.queue_id != second.queue_id
    assert (first.rcpt_tos, second.rcpt_tos) == (["bob@remote.test"], ["carol@remote.test"])
    assert first.received <= second.received


def test_a_message_over_the_size_limit_is_refused(start):
    server = start()
    with server.smtp() as client:
        client.ehlo()
        code, text = client.mail("alice@client.example", [f"SIZE={20 * 1024 * 1024}"])
    assert code == 552 and b"size" in text


def test_a_spool_it_cannot_write_defers_the_message(start):
    """Nothing is lost: the client hears 451 and keeps the message."""
    server = start()
    server.spool.rmdir()
    server.spool.write_text("not a folder")
    with server.smtp() as client:
        client.ehlo()
        client.mail("alice@client.example")
        client.rcpt("bob@remote.test")
        assert client.data(MESSAGE) == (451, b"4.3.0 Error: queue file write error")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_it_promptly_even_with_a_client_connected(start, signum):
    server = start()
    raw = server.raw()
    raw.reply()
    server.process.send_signal(signum)
    _, stderr = server.process.communicate(timeout=5)
    assert server.process.returncode == 0
    assert stderr == ""
    assert not server.ready.exists()
    raw.close()


def test_a_port_in_use_is_one_sentence_and_exit_status_2(start, tmp_path):
    first = start()
    (tmp_path / "clash").mkdir()
    config = dict(first.config, listen=["127.0.0.1", first.port], spool=str(tmp_path / "clash" / "spool"),
                  ready=str(tmp_path / "clash" / "ready"))
    path = tmp_path / "clash" / "mx.json"
    path.write_text(json.dumps(config))
    done = subprocess.run([sys.executable, "-m", "sandbox.mailserver", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr == (f"mailserver mx1: cannot listen on 127.0.0.1 port {first.port}: address already in use "
                           "(another program listens there already).\n")
    assert not (tmp_path / "clash" / "ready").exists()


@pytest.mark.parametrize("content, said", [
    (None, "there is no such settings file."),
    ("{not json", "not valid JSON"),
    ('{"name": "mx1"}', "the setting 'hostname' is missing"),
])
def test_a_bad_settings_file_is_one_sentence_and_exit_status_2(tmp_path, content, said):
    path = tmp_path / "mx.json"
    if content is not None:
        path.write_text(content)
    done = subprocess.run([sys.executable, "-m", "sandbox.mailserver", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.startswith(f"mailserver: {path}: ") and said in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_ready_file_it_cannot_write_is_one_sentence_and_exit_status_2(tmp_path):
    path = tmp_path / "mx.json"
    path.write_text(json.dumps(dict(GOOD, listen=["127.0.0.1", 0], spool=str(tmp_path / "spool"),
                                    ready=str(tmp_path / "absent" / "ready"))))
    done = subprocess.run([sys.executable, "-m", "sandbox.mailserver", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stderr) == (
        2, f"mailserver mx1: cannot write the ready file {tmp_path}/absent/ready (No such file or directory).\n")


def test_wrong_usage_is_exit_status_2():
    done = subprocess.run([sys.executable, "-m", "sandbox.mailserver"], cwd=ROOT, capture_output=True, text=True,
                          timeout=30)
    assert (done.returncode, done.stderr) == (2, "usage: python -m sandbox.mailserver CONFIG.json\n")


GOOD = {"name": "mx1", "hostname": "mx1.remote.test", "listen": ["198.51.100.10", 25], "domains": ["Remote.Test"],
        "spool": "/srv/spool"}


def test_settings_are_read_with_defaults():
    config = from_dict(dict(GOOD, reject=["Nobody@remote.test"]))
    assert (config.host, config.port, config.mode, config.domains) == ("198.51.100.10", 25, "accept", ("remote.test",))
    assert config.reject == frozenset({"nobody@remote.test"}) and config.ready is None
    assert config.greylist_seconds == 60 and config.spool == Path("/srv/spool")


@pytest.mark.parametrize("change, said", [
    ({"mode": "bounce"}, '"mode" must be one of accept, reject, greylist, capture, verify (it is "bounce").'),
    ({"listen": ["198.51.100.10"]}, '"listen" must be [ADDRESS, PORT]'),
    ({"listen": ["198.51.100.10", 70000]}, '"listen" must be [ADDRESS, PORT]'),
    ({"listen": ["mx1.remote.test", 25]}, '"listen" must start with an IP address, not "mx1.remote.test".'),
    ({"domains": []}, '"domains" must be a non-empty list'),
    ({"domains": "remote.test"}, '"domains" must be a non-empty list'),
    ({"reject": ["nobody"]}, '"reject" must list whole addresses'),
    ({"greylist_seconds": -1}, '"greylist_seconds" must be a number of seconds'),
    ({"greylist_seconds": True}, '"greylist_seconds" must be a number of seconds'),
    ({"spool": "spool"}, '"spool" must be an absolute path (it is "spool").'),
    ({"ready": 3}, '"ready" must be an absolute path'),
    ({"hostname": "mx 1"}, '"hostname" must be a name without spaces'),
    ({"modes": "accept"}, "unknown setting 'modes'"),
])
def test_each_wrong_setting_gets_its_own_sentence(change, said):
    with pytest.raises(ConfigError) as raised:
        from_dict(dict(GOOD, **change))
    assert said in str(raised.value)


def test_settings_that_are_not_an_object():
    with pytest.raises(ConfigError, match="must be one JSON object"):
        from_dict(["mx1"])


def test_wait_ready_says_when_the_server_died(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(2)"])
    with pytest.raises(SandboxError, match=r"stopped before it listened \(exit status 2\)"):
        wait_ready(tmp_path / "ready", process, timeout=20)


# -- the reader: pure functions over files ------------------------------------------------------
def _data(message_id: str) -> bytes:
    return f"Message-Id: <{message_id}>\r\n\r\nhi\r\n".encode()


def _entry(queue_id: str, received: str, message_id: str = "x@client.example") -> dict:
    return record(queue_id=queue_id, server="mx1", received=received, client=("192.0.2.10", 40000),
                  helo="mail1.example.test", mail_from="alice@example.test", mail_options=[],
                  rcpt_tos=["bob@remote.test"], data=_data(message_id))


def _store(folder, queue_id: str, received: str, message_id: str = "x@client.example"):
    return store(folder, _entry(queue_id, received, message_id), _data(message_id))


def test_the_reader_skips_corrupt_half_written_and_foreign_files(tmp_path):
    _store(tmp_path, "BBBBBB2222", "2026-11-30T06:00:02.000000+00:00", "second@x")
    _store(tmp_path, "AAAAAA1111", "2026-11-30T06:00:01.000000+00:00", "first@x")
    (tmp_path / "CORRUPT001.json").write_text('{"queue_id": "CORRUPT001", "server": ')
    (tmp_path / ".HALF00001.tmp").write_text(json.dumps(_entry("HALF00001", "2026-11-30T06:00:00+00:00")))
    (tmp_path / "LIST000001.json").write_text("[1, 2]")
    wrong_type = dict(_entry("WRONG00001", "2026-11-30T06:00:00+00:00"), client_port="40000")
    (tmp_path / "WRONG00001.json").write_text(json.dumps(wrong_type))
    missing = _entry("MISSING001", "2026-11-30T06:00:00+00:00")
    del missing["rcpt_tos"]
    (tmp_path / "MISSING001.json").write_text(json.dumps(missing))
    (tmp_path / "BINARY0001.json").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "notes.txt").write_text("not a message")
    found = messages(tmp_path)
    assert [m.queue_id for m in found] == ["AAAAAA1111", "BBBBBB2222"]  # oldest first
    assert all(isinstance(m, Received) for m in found)
    assert find(tmp_path, message_id="second@x").queue_id == "BBBBBB2222"
    assert find(tmp_path, queue_id="CORRUPT001") is None
    assert find(tmp_path, queue_id="../BBBBBB2222") is None


def test_the_reader_of_a_missing_spool_finds_nothing(tmp_path):
    assert messages(tmp_path / "absent") == []
    assert find(tmp_path / "absent", queue_id="AAAAAA1111") is None
    with pytest.raises(TypeError, match="needs queue_id= or message_id="):
        find(tmp_path)


def test_store_leaves_no_temporary_file(tmp_path):
    path = _store(tmp_path, "AAAAAA1111", "2026-11-30T06:00:01+00:00")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["AAAAAA1111.eml", "AAAAAA1111.json"]
    assert path.name == "AAAAAA1111.json"


def test_headers_are_unfolded_in_order_with_duplicates():
    raw = ("Received: from a\r\n\tby b\r\nReceived: from c\r\nSubject:  folded\r\n  twice\r\n"
           "X-Empty:\r\n\r\nBody: not a header\r\n")
    assert parse_headers(raw) == [("Received", "from a by b"), ("Received", "from c"),
                                  ("Subject", "folded twice"), ("X-Empty", "")]
    assert parse_headers("no header here\r\n\r\n") == []
    assert parse_headers(" leading space\r\nSubject: x\r\n") == []


# -- bounds: what a learner's machine can make the host store, and what the grader reads back ----
def _message(size: int, tag: str = "big") -> bytes:
    head = f"From: a@client.example\r\nTo: bob@remote.test\r\nMessage-Id: <{tag}@client.example>\r\n\r\n".encode()
    line = b"x" * 998 + b"\r\n"
    return head + line * (size // len(line))


def test_a_message_over_the_size_limit_gets_552(start):
    server = start()
    with server.smtp() as client:
        client.ehlo()
        assert int(client.esmtp_features["size"]) == spoolmod.SIZE_LIMIT
        # Declared too big in MAIL FROM, or simply sent too big.
        code, _ = client.mail("a@client.example", ["SIZE=%d" % (spoolmod.SIZE_LIMIT + 1)])
        assert code == 552
        client.rset()
        client.mail("a@client.example")
        client.rcpt("bob@remote.test")
        code, _ = client.data(_message(spoolmod.SIZE_LIMIT + 100_000))
        assert code == 552
    assert messages(server.spool) == []


def test_a_message_is_stored_as_its_own_bytes(start):
    server = start()
    data = _message(9 * 1024 * 1024, "nine")
    with server.smtp() as client:
        client.sendmail("a@client.example", ["bob@remote.test"], data)
    (found,) = messages(server.spool)
    eml = found.path.with_suffix(".eml")
    assert eml.stat().st_size == len(data)  # the bytes, not an escaped copy many times larger
    assert found.path.stat().st_size < 4096  # the envelope and headers beside them
    assert found.size == len(data) and found.message_id == "nine@client.example"
    assert found.truncated and len(found.raw) == spoolmod.RAW_LIMIT  # what the grader holds of it


def test_a_full_spool_answers_452_and_keeps_what_it_has(start):
    server = start()
    small = _message(10_000)
    with server.smtp() as client:
        for n in range(3):
            client.sendmail("a@client.example", ["bob@remote.test"], small)
    # Fill it up to its byte cap from the side (a server restart reads the same folder).
    (server.spool / "FILLER.eml").write_bytes(b"x" * (spoolmod.SPOOL_BYTES - 20_000))
    with server.smtp() as client:
        client.ehlo()
        code, text = client.mail("a@client.example", ["SIZE=%d" % len(small)])
        assert (code, text) == (452, b"4.3.1 Insufficient system storage")
        client.rset()
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("a@client.example", ["bob@remote.test"], small)
        assert refused.value.smtp_code == 452
    assert len(messages(server.spool)) == 3


def test_reading_a_spool_of_big_messages_stays_small(tmp_path):
    """The grader reading 30 messages of 10 MiB each keeps at most RAW_LIMIT of each."""
    data = _message(spoolmod.SIZE_LIMIT - 10_000)
    for n in range(30):
        entry = spoolmod.record(queue_id=f"Q{n:04d}", server="mx1", received=f"2026-12-05T00:00:{n:02d}+00:00",
                             client=("192.0.2.10", 1), helo="x", mail_from="a@x", mail_options=[],
                             rcpt_tos=["b@remote.test"], data=data)
        spoolmod.store(tmp_path, entry, data)
    code = ("import resource, sys; from sandbox.mailserver.spool import messages; "
            f"found = messages({str(tmp_path)!r}); assert len(found) == 30; "
            # VmHWM is this program's own peak (ru_maxrss would start at the forking test runner's size).
            "print(int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) // 1024)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    peak_mib = int(done.stdout)
    assert peak_mib < 150, peak_mib  # 30 x 10 MiB would be 300 MiB and more


# -- the caps as settings, and what one session can make the server hold ---------------------------
def test_the_caps_are_settings_with_course_defaults():
    config = from_dict(GOOD)
    assert (config.size_limit, config.spool_bytes, config.spool_messages) == (10 * 2**20, 64 * 2**20, 500)
    config = from_dict(dict(GOOD, size_limit=50_000, spool_bytes=200_000, spool_messages=3))
    assert (config.size_limit, config.spool_bytes, config.spool_messages) == (50_000, 200_000, 3)


@pytest.mark.parametrize("change, said", [
    ({"size_limit": 0}, '"size_limit" must be a whole number from 1024 to 15728640 (it is 0).'),
    ({"size_limit": 64 * 2**20}, '"size_limit" must be a whole number'),
    ({"size_limit": "10M"}, '"size_limit" must be a whole number'),
    ({"spool_bytes": True}, '"spool_bytes" must be a whole number'),
    ({"spool_messages": 0}, '"spool_messages" must be a whole number from 1 to 10000'),
    ({"size_limit": 5000, "spool_bytes": 4000}, '"spool_bytes" (4000) must be at least "size_limit" (5000)'),
])
def test_a_wrong_cap_gets_its_own_sentence(change, said):
    with pytest.raises(ConfigError) as raised:
        from_dict(dict(GOOD, **change))
    assert said in str(raised.value)


def test_a_server_takes_its_caps_from_its_settings(start):
    server = start(size_limit=20_000, spool_bytes=50_000, spool_messages=2)
    with server.smtp() as client:
        client.ehlo()
        assert int(client.esmtp_features["size"]) == 20_000
        assert client.mail("a@client.example", ["SIZE=20001"])[0] == 552
        client.rset()
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:  # smtplib declares SIZE itself
            client.sendmail("a@client.example", ["bob@remote.test"], _message(25_000))
        assert refused.value.smtp_code == 552
        for n in range(2):
            client.sendmail("a@client.example", ["bob@remote.test"], _message(5_000, f"m{n}"))
        # Two messages are the cap: the third is told to come back later.
        with pytest.raises(smtplib.SMTPSenderRefused) as full:
            client.sendmail("a@client.example", ["bob@remote.test"], _message(5_000, "m2"))
        assert full.value.smtp_code == 452
    assert [m.message_id for m in messages(server.spool)] == ["m0@client.example", "m1@client.example"]


def test_a_line_without_end_is_cut_off_and_the_server_goes_on(start):
    """aiosmtpd gathers a line's pieces until it ends: megabytes without a line end must not pile up."""
    server = start(mode="capture")
    raw = server.raw()
    raw.reply()
    raw.say(b"EHLO learner.example\r\n")
    raw.say(b"MAIL FROM:<a@client.example>\r\n")
    raw.say(b"RCPT TO:<bob@remote.test>\r\n")
    raw.say(b"DATA\r\n")
    try:
        for _ in range(64):  # 4 MiB without a line end; the server hangs up long before
            raw.sock.sendall(b"x" * 65536)
    except OSError:
        pass  # the server hung up while we were still sending
    raw.sock.settimeout(5)
    said = raw.file.read()
    assert b"421 4.7.0 Error: line too long" in said
    raw.close()
    with server.smtp() as client:  # the server still serves others
        client.sendmail("a@client.example", ["bob@remote.test"], MESSAGE)
    assert len(messages(server.spool)) == 1


def test_a_long_line_is_cut_in_the_transcript(start):
    server = start(mode="capture")
    with server.smtp() as client:
        long_line = b"X-Long: " + b"y" * 5000 + b"\r\n"
        # SMTP allows 1000 characters a line: that message is refused, the session goes on.
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("a@client.example", ["bob@remote.test"], long_line + MESSAGE.encode())
        assert refused.value.smtp_code == 500
        client.sendmail("a@client.example", ["bob@remote.test"], MESSAGE)
    (stored,) = messages(server.spool)
    cut = [line for side, line in stored.transcript if line.startswith("X-Long:")]
    assert cut and all(len(line) < 1100 and "more characters]" in line for line in cut)


def test_a_record_too_big_for_its_bound_loses_old_transcript_lines_first(tmp_path):
    transcript = [("client", f"line {n} " + "z" * 900 + "\n") for n in range(2000)]
    entry = _entry("AAAAAA1111", "2026-11-30T06:00:01+00:00", "kept@x")
    entry["transcript"] = transcript
    path = store(tmp_path, entry, _data("kept@x"))
    assert path.stat().st_size <= spoolmod.META_LIMIT
    (found,) = messages(tmp_path)
    assert found.message_id == "kept@x" and found.transcript[-1] == transcript[-1]
    assert 0 < len(found.transcript) < len(transcript)


def test_the_reader_reads_newest_first_within_its_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(spoolmod, "READ_BUDGET", 2500)
    monkeypatch.setattr(spoolmod, "RAW_LIMIT", 1000)
    data = _message(1500, "same")
    for n in range(4):
        entry = spoolmod.record(queue_id=f"Q{n}", server="mx1", received=f"2026-12-05T00:00:0{n}+00:00",
                                client=("192.0.2.10", 1), helo="x", mail_from="a@x", mail_options=[],
                                rcpt_tos=["b@remote.test"], data=data)
        path = spoolmod.store(tmp_path, entry, data)
        os.utime(path, (1_700_000_000 + n, 1_700_000_000 + n))
    found = messages(tmp_path)
    assert [m.queue_id for m in found] == ["Q0", "Q1", "Q2", "Q3"]
    assert [len(m.raw) for m in found] == [0, 500, 1000, 1000]  # the newest got their share first
    assert all(m.truncated and m.message_id == "same@client.example" for m in found)


def test_the_reader_leaves_out_older_messages_once_its_json_budget_is_spent(tmp_path, monkeypatch):
    for n in range(6):
        path = _store(tmp_path, f"Q{n}", f"2026-12-05T00:00:0{n}+00:00", f"m{n}@x")
        os.utime(path, (1_700_000_000 + n, 1_700_000_000 + n))
    one = (tmp_path / "Q0.json").stat().st_size
    monkeypatch.setattr(spoolmod, "META_BUDGET", one * 3)
    assert [m.queue_id for m in messages(tmp_path)] == ["Q3", "Q4", "Q5"]
    monkeypatch.setattr(spoolmod, "READ_MESSAGES", 2)
    assert [m.queue_id for m in messages(tmp_path)] == ["Q4", "Q5"]
    # Finding by Message-Id reads one JSON at a time, so the budget of a whole look does not apply.
    assert find(tmp_path, message_id="m4@x").queue_id == "Q4"
    assert find(tmp_path, message_id="m0@x") is None  # older than the newest READ_MESSAGES
    assert find(tmp_path, queue_id="Q0").message_id == "m0@x"  # by queue id: one file, any age
