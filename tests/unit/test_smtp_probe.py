"""The grader's SMTP probe against real servers on 127.0.0.1: the lab's mail servers, aiosmtpd with
STARTTLS, and peers that refuse, stay silent, hang up or do not speak SMTP."""
from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from grader.smtp_probe import Reply, converse, send_like_an_mta
from sandbox.mailserver import find, messages
from sandbox.mailserver.config import from_dict
from sandbox.mailserver.handlers import Accepting
from sandbox.mailserver.protocol import LabSMTP
from sandbox.mailserver.server import wait_ready

ROOT = Path(__file__).resolve().parents[2]
MESSAGE = "From: outside@client.example\nSubject: probe\nMessage-Id: <probe-1@client.example>\n\nHello.\n.leading dot\n"


def connect(host: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((host, port), timeout)


@pytest.fixture
def mailserver(tmp_path):
    """Start the lab's mail server (`python -m sandbox.mailserver`) with some settings; stopped after the test."""
    started = []

    def start(**settings):
        folder = tmp_path / f"server{len(started)}"
        folder.mkdir()
        config = {"name": f"mx{len(started) + 1}", "hostname": f"mx{len(started) + 1}.remote.test",
                  "listen": ["127.0.0.1", 0], "domains": ["remote.test"], "mode": "accept",
                  "reject": ["nobody@remote.test"], "spool": str(folder / "spool"), "ready": str(folder / "ready"),
                  **settings}
        (folder / "mx.json").write_text(json.dumps(config))
        process = subprocess.Popen([sys.executable, "-m", "sandbox.mailserver", str(folder / "mx.json")], cwd=ROOT)
        started.append(process)
        host, port = wait_ready(folder / "ready", process, timeout=20)
        return port, folder / "spool"

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Peer:
    """A TCP peer that misbehaves on purpose: `script(conn)` runs for each connection it accepts."""

    def __init__(self, script) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.script = script
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            try:
                self.script(conn)
            except OSError:
                pass

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=5)


def test_a_whole_conversation_with_a_lab_mail_server(mailserver):
    port, spool = mailserver()
    talk = converse(connect, "127.0.0.1", port, ehlo="outside.client.example", mail_from="outside@client.example",
                    rcpts=["bob@remote.test", "nobody@remote.test", "bob@elsewhere.test"], data=MESSAGE, timeout=5)
    assert talk.connected and talk.error is None
    assert talk.banner == Reply(220, ("mx1.remote.test ESMTP",))
    assert talk.ehlo.code == 250 and talk.ehlo.lines[0] == "mx1.remote.test"
    assert talk.extensions["size"] == "10485760" and not talk.starttls_offered
    assert talk.helo is None and talk.tls is None
    assert str(talk.mail) == "250 2.1.0 Ok"
    assert list(talk.rcpt) == ["bob@remote.test", "nobody@remote.test", "bob@elsewhere.test"]
    assert [r.code for r in talk.rcpt.values()] == [250, 550, 554]
    assert talk.rcpt["nobody@remote.test"].permanent and talk.accepted == ["bob@remote.test"]
    assert talk.delivered and talk.data.text == f"2.0.0 Ok: queued as {talk.queue_id}"
    stored = find(spool, queue_id=talk.queue_id)
    assert stored.helo == "outside.client.example" and stored.rcpt_tos == ["bob@remote.test"]
    # line ends became CRLF and the leading dot was stuffed on the wire, then removed by the server
    assert stored.raw == MESSAGE.replace("\n", "\r\n")
    assert talk.transcript[:2] == ["< 220 mx1.remote.test ESMTP", "> EHLO outside.client.example"]
    assert f"< 250 2.0.0 Ok: queued as {talk.queue_id}" in talk.transcript
    assert talk.transcript[-2:] == ["> QUIT", "< 221 Bye"]
    assert talk.describe().startswith(f"connected to 127.0.0.1 port {port}\n< 220 mx1.remote.test ESMTP")


def test_it_stops_where_asked(mailserver):
    """Without mail_from it only greets; without data it stops after RCPT; with no recipient taken, no DATA."""
    port, spool = mailserver()
    greeting = converse(connect, "127.0.0.1", port, timeout=5)
    assert greeting.ehlo.code == 250 and greeting.mail is None and greeting.error is None
    answers = converse(connect, "127.0.0.1", port, mail_from="a@client.example", rcpts=["bob@remote.test"], timeout=5)
    assert answers.rcpt["bob@remote.test"].code == 250 and answers.data is None and not answers.delivered
    refused = converse(connect, "127.0.0.1", port, mail_from="a@client.example", rcpts=["nobody@remote.test"],
                       data=MESSAGE, timeout=5)
    assert refused.data is None and refused.queue_id is None and "> DATA" not in refused.transcript
    assert messages(spool) == []


def test_a_client_that_never_greets(mailserver):
    """ehlo=None: MAIL FROM straight after the greeting, as a careless bot does."""
    port, _spool = mailserver()
    talk = converse(connect, "127.0.0.1", port, ehlo=None, mail_from="a@client.example", rcpts=["bob@remote.test"],
                    timeout=5)
    assert talk.ehlo is None and talk.helo is None and talk.mail is not None
    assert not any(line.startswith(("> EHLO", "> HELO")) for line in talk.transcript)
    assert any(line.startswith("> MAIL FROM:<a@client.example>") for line in talk.transcript)
    assert talk.mail.code == 503 and not talk.rcpt  # aiosmtpd wants a greeting first, as Postfix can


def test_a_closed_port_is_connection_refused():
    talk = converse(connect, "127.0.0.1", free_port(), mail_from="a@client.example", rcpts=["b@remote.test"],
                    data=MESSAGE, timeout=2)
    assert not talk.connected and talk.error == "connection refused"
    assert talk.banner is None and talk.transcript == []
    assert talk.describe().endswith(": connection refused")


def test_a_host_that_never_answers_the_connection_times_out():
    """A listener whose queue is full drops new connection requests, like an unplugged host."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    held = socket.create_connection(("127.0.0.1", port), 2)  # fills the queue
    try:
        talk = converse(connect, "127.0.0.1", port, timeout=0.3)
    finally:
        held.close()
        listener.close()
    assert not talk.connected and talk.error == "timed out"


def test_a_silent_peer_gives_no_greeting():
    peer = Peer(lambda conn: conn.recv(1024))  # accepts, then waits for the client to speak first
    talk = converse(connect, "127.0.0.1", peer.port, timeout=0.3)
    peer.close()
    assert talk.connected and talk.banner is None
    assert talk.error == "no answer to the greeting within 0.3 s"


def test_a_peer_that_hangs_up_after_ehlo():
    def script(conn):
        conn.sendall(b"220 flaky.remote.test ESMTP\r\n")
        conn.recv(1024)

    peer = Peer(script)
    talk = converse(connect, "127.0.0.1", peer.port, mail_from="a@client.example", timeout=2)
    peer.close()
    assert talk.banner.code == 220 and talk.ehlo is None
    assert talk.error == "the server closed the connection at EHLO"
    assert talk.describe().endswith("stopped: the server closed the connection at EHLO")


@pytest.mark.parametrize("greeting, error", [
    (b"SSH-2.0-OpenSSH_9.2p1\r\n", "the server's greeting is not SMTP: 'SSH-2.0-OpenSSH_9.2p1'"),
    (b"554 5.3.2 mx.remote.test not accepting mail\r\n",
     "the server refused the session (554 5.3.2 mx.remote.test not accepting mail)"),
])
def test_a_greeting_that_is_not_a_welcome(greeting, error):
    peer = Peer(lambda conn: (conn.sendall(greeting), conn.recv(1024)))
    talk = converse(connect, "127.0.0.1", peer.port, timeout=2)
    peer.close()
    assert talk.connected and talk.error == error and talk.ehlo is None


def test_ehlo_refused_falls_back_to_helo():
    def script(conn):
        file = conn.makefile("rb")
        conn.sendall(b"220 old.remote.test SMTP\r\n")
        for reply in (b"502 5.5.2 Error: command not recognized\r\n", b"250 old.remote.test\r\n", b"221 Bye\r\n"):
            file.readline()
            conn.sendall(reply)

    peer = Peer(script)
    talk = converse(connect, "127.0.0.1", peer.port, timeout=2)
    peer.close()
    assert talk.ehlo.code == 502 and talk.helo == Reply(250, ("old.remote.test",))
    assert talk.error is None and talk.extensions == {}


def test_asking_for_starttls_where_none_is_offered(mailserver):
    port, _ = mailserver()
    talk = converse(connect, "127.0.0.1", port, mail_from="a@client.example", starttls=True, timeout=5)
    assert talk.error == "the server does not offer STARTTLS" and talk.tls is None and talk.mail is None


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=tls.remote.test"],
                   check=True, capture_output=True, timeout=60)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


class TLSController(Controller):
    """aiosmtpd's threaded server, speaking through the lab's session class (capture mode) with STARTTLS."""

    def __init__(self, handler, port, tls_context) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=port)
        self.tls_context = tls_context

    def factory(self):
        return LabSMTP(self.handler, record=True, hostname="tls.remote.test", ident="ESMTP",
                       tls_context=self.tls_context)


def test_starttls_is_negotiated_and_the_session_goes_on_inside_it(tmp_path, tls_context):
    config = from_dict({"name": "tls", "hostname": "tls.remote.test", "listen": ["127.0.0.1", 0],
                        "domains": ["remote.test"], "mode": "capture", "spool": str(tmp_path)})
    port = free_port()
    controller = TLSController(Accepting(config), port, tls_context)
    controller.start()
    try:
        talk = converse(connect, "127.0.0.1", port, mail_from="a@client.example", rcpts=["bob@remote.test"],
                        data=MESSAGE, starttls=True, timeout=5)
    finally:
        controller.stop()
    assert talk.error is None and talk.starttls_offered
    assert talk.starttls.code == 220
    assert talk.tls.protocol.startswith("TLSv1.") and talk.tls.cipher
    assert talk.ehlo_tls.code == 250 and talk.delivered
    stored = find(tmp_path, queue_id=talk.queue_id)
    assert stored.raw == MESSAGE.replace("\n", "\r\n")
    # inside TLS the server still records the plain lines, in order
    sent = [line for side, line in stored.transcript if side == "client"]
    assert sent[:5] == ["EHLO client.example\r\n", "STARTTLS\r\n", "EHLO client.example\r\n",
                        "MAIL FROM:<a@client.example>\r\n", "RCPT TO:<bob@remote.test>\r\n"]
    assert ("server", "220 Ready to start TLS\r\n") in stored.transcript


def test_a_failed_tls_handshake_is_said_plainly():
    def script(conn):
        file = conn.makefile("rb")
        conn.sendall(b"220 broken.remote.test ESMTP\r\n")
        file.readline()
        conn.sendall(b"250-broken.remote.test\r\n250 STARTTLS\r\n")
        file.readline()
        conn.sendall(b"220 Ready to start TLS\r\n")
        conn.recv(4096)
        conn.sendall(b"this is no TLS server hello\r\n" * 4)

    peer = Peer(script)
    talk = converse(connect, "127.0.0.1", peer.port, starttls=True, timeout=2)
    peer.close()
    assert talk.starttls_offered and talk.tls is None
    assert talk.error.startswith("the TLS handshake failed (")


def _auth_peer(seen: list[bytes], *, accept: bool):
    """A server that offers AUTH PLAIN LOGIN, notes what the client sends, and answers 235 or 535."""
    def script(conn):
        file = conn.makefile("rb")
        conn.sendall(b"220 auth.remote.test ESMTP\r\n")
        file.readline()
        conn.sendall(b"250-auth.remote.test\r\n250 AUTH PLAIN LOGIN\r\n")
        line = file.readline()
        seen.append(line)
        if line.startswith(b"AUTH LOGIN"):
            for prompt in (b"VXNlcm5hbWU6", b"UGFzc3dvcmQ6"):
                conn.sendall(b"334 " + prompt + b"\r\n")
                seen.append(file.readline())
        conn.sendall(b"235 2.7.0 Authentication successful\r\n" if accept
                     else b"535 5.7.8 Error: authentication failed\r\n")
        line = file.readline()
        seen.append(line)
        if line.startswith(b"MAIL"):
            conn.sendall(b"250 2.1.0 Ok\r\n")
            seen.append(file.readline())
        conn.sendall(b"221 Bye\r\n")
    return script


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_logs_in_and_the_transcript_hides_the_password(mechanism):
    seen: list[bytes] = []
    peer = Peer(_auth_peer(seen, accept=True))
    talk = converse(connect, "127.0.0.1", peer.port, mail_from="alice@example.test", auth=("alice", "alice123"),
                    auth_mechanism=mechanism, timeout=2)
    peer.close()
    assert talk.auth_offered and talk.authenticated and talk.mail.code == 250
    if mechanism == "PLAIN":
        assert seen[0] == b"AUTH PLAIN AGFsaWNlAGFsaWNlMTIz\r\n"  # base64 of \0alice\0alice123
    else:
        assert seen[:3] == [b"AUTH LOGIN\r\n", b"YWxpY2U=\r\n", b"YWxpY2UxMjM=\r\n"]
    shown = "\n".join(str(line) for line in talk.transcript)
    assert "alice123" not in shown and "AGFsaWNl" not in shown and "YWxpY2U" not in shown
    assert "hidden" in shown


def test_a_refused_login_stops_before_mail():
    seen: list[bytes] = []
    peer = Peer(_auth_peer(seen, accept=False))
    talk = converse(connect, "127.0.0.1", peer.port, mail_from="alice@example.test", rcpts=["user@remote.test"],
                    auth=("alice", "wrong"), timeout=2)
    peer.close()
    assert not talk.authenticated and talk.auth.code == 535 and talk.mail is None and talk.error is None
    assert not any(line.startswith(b"MAIL") for line in seen)


# -- as an MTA sends ------------------------------------------------------------------------------
def mx_world(ports: dict[str, int]):
    def resolve_mx(domain):
        assert domain == "remote.test"
        return [(20, "mx2.remote.test"), (10, "mx1.remote.test")]  # unsorted on purpose

    def connect_by_name(host, port, timeout):
        return socket.create_connection(("127.0.0.1", ports[host]), timeout)

    return resolve_mx, connect_by_name


def test_outside_mail_goes_to_the_backup_mx_while_the_primary_is_down(mailserver):
    backup, spool = mailserver()
    resolve_mx, connect_by_name = mx_world({"mx1.remote.test": free_port(), "mx2.remote.test": backup})
    delivery = send_like_an_mta(resolve_mx, connect_by_name, "remote.test", mail_from="outside@client.example",
                                rcpts=["bob@remote.test"], data=MESSAGE, timeout=5)
    assert delivery.hosts == ["mx1.remote.test", "mx2.remote.test"]
    assert [t.host for t in delivery.attempts] == ["mx1.remote.test", "mx2.remote.test"]
    assert delivery.attempts[0].error == "connection refused"
    assert delivery.delivered_by == "mx2.remote.test"
    assert find(spool, queue_id=delivery.queue_id).rcpt_tos == ["bob@remote.test"]
    assert delivery.describe().splitlines() == [
        "MX hosts of remote.test: mx1.remote.test, mx2.remote.test",
        "mx1.remote.test: connection refused",
        f"mx2.remote.test: took the message (queued as {delivery.queue_id})"]


def test_the_primary_takes_it_when_it_is_up(mailserver):
    primary, spool1 = mailserver()
    backup, spool2 = mailserver()
    resolve_mx, connect_by_name = mx_world({"mx1.remote.test": primary, "mx2.remote.test": backup})
    delivery = send_like_an_mta(resolve_mx, connect_by_name, "remote.test", mail_from="outside@client.example",
                                rcpts=["bob@remote.test"], data=MESSAGE, timeout=5)
    assert delivery.delivered_by == "mx1.remote.test" and len(delivery.attempts) == 1
    assert len(messages(spool1)) == 1 and messages(spool2) == []


def test_a_temporary_refusal_moves_on_and_a_permanent_one_stops(mailserver):
    greylisting, _ = mailserver(mode="greylist", greylist_seconds=60)
    backup, spool = mailserver()
    resolve_mx, connect_by_name = mx_world({"mx1.remote.test": greylisting, "mx2.remote.test": backup})
    delivery = send_like_an_mta(resolve_mx, connect_by_name, "remote.test", mail_from="outside@client.example",
                                rcpts=["bob@remote.test"], data=MESSAGE, timeout=5)
    assert delivery.attempts[0].rcpt["bob@remote.test"].temporary
    assert delivery.delivered_by == "mx2.remote.test"
    assert "mx1.remote.test: answered 450 4.7.1" in delivery.describe()

    rejecting, _ = mailserver(mode="reject")
    resolve_mx, connect_by_name = mx_world({"mx1.remote.test": rejecting, "mx2.remote.test": backup})
    delivery = send_like_an_mta(resolve_mx, connect_by_name, "remote.test", mail_from="outside@client.example",
                                rcpts=["bob@remote.test"], data=MESSAGE, timeout=5)
    assert len(delivery.attempts) == 1 and delivery.delivered_by is None
    assert delivery.attempts[0].rcpt["bob@remote.test"].code == 550
    assert len(messages(spool)) == 1  # only the earlier message


def test_a_domain_without_mx_records_is_its_own_mail_host(mailserver):
    port, spool = mailserver()
    delivery = send_like_an_mta(lambda domain: [], lambda host, _port, timeout: connect("127.0.0.1", port, timeout),
                                "remote.test", mail_from="", rcpts=["bob@remote.test"], data=MESSAGE, timeout=5)
    assert delivery.hosts == ["remote.test"] and delivery.delivered_by == "remote.test"
    assert messages(spool)[0].mail_from == ""
