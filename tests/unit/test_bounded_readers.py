"""The bounded readers against real loopback servers: what each cut-off tells the learner (naming
the port and the reply), that a conversation ends with its step, and that a check running out of
memory becomes a sentence."""
from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from grader import bounded
from grader.check import check
from grader.result import Status
from grader.retrieval import pop3
from grader.runner import MEMORY_CAP, run_step
from grader.smtp_probe import converse


def connect(host: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((host, port), timeout)


@pytest.fixture
def serve():
    """`serve(talk)`: a server on 127.0.0.1 running `talk(conn)` for each client; its port."""
    stops = []

    def start(talk) -> int:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.settimeout(0.2)
        stop = threading.Event()
        stops.append((stop, listener))

        def loop():
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                with conn:
                    try:
                        talk(conn, stop)
                    except OSError:
                        pass

        threading.Thread(target=loop, daemon=True).start()
        return listener.getsockname()[1]

    yield start
    for stop, listener in stops:
        stop.set()
        listener.close()


def forever(data: bytes, first: bytes = b""):
    def talk(conn, stop):
        conn.sendall(first)
        if first:
            conn.recv(1000)  # the client's EHLO
        while not stop.is_set():
            conn.sendall(data)
    return talk


def drip(conn, stop, line=b"220-slow\r\n"):
    for byte in line * 1000:
        if stop.is_set():
            return
        conn.sendall(bytes([byte]))
        time.sleep(0.05)


def test_a_greeting_without_end_is_cut_at_64_kib(serve):
    port = serve(forever((b"220-" + b"x" * 1000 + b"\r\n") * 64))
    talk = converse(connect, "127.0.0.1", port, timeout=5)
    assert talk.error == f"the server on port {port} sent more than 64 KiB before its greeting ended: no mail server does that"


def test_a_greeting_of_one_endless_line_is_cut_at_8_kib(serve):
    port = serve(forever(b"220 " + b"x" * 65536))
    talk = converse(connect, "127.0.0.1", port, timeout=5)
    assert f"the server on port {port} sent a line of more than 8 KiB in its greeting" in talk.error


def test_a_greeting_of_many_short_lines_is_cut_at_200_lines(serve):
    port = serve(forever(b"220-x\r\n" * 500))
    talk = converse(connect, "127.0.0.1", port, timeout=5)
    assert f"the server on port {port} sent more than 200 lines before its greeting ended" in talk.error


def test_an_endless_answer_to_ehlo_is_named_so(serve):
    port = serve(forever(b"250-" + b"y" * 500 + b"\r\n", first=b"220 ok\r\n"))
    talk = converse(connect, "127.0.0.1", port, timeout=5)
    assert talk.banner.code == 220
    assert f"the server on port {port} sent more than 64 KiB before its answer to EHLO ended" in talk.error


def test_a_drip_ends_at_the_conversation_limit_and_says_how_much_came(serve, monkeypatch):
    monkeypatch.setattr(bounded, "SECONDS", 1.0)
    port = serve(drip)
    started = time.monotonic()
    talk = converse(connect, "127.0.0.1", port, timeout=5)
    assert time.monotonic() - started < 3
    assert f"the server on port {port} took longer than 1 s and was still sending its greeting (" in talk.error
    assert "bytes in all): it answers too slowly" in talk.error


def test_a_conversation_ends_with_its_step(serve):
    port = serve(drip)
    started = time.monotonic()
    with bounded.until(time.monotonic() + 1.0):
        talk = converse(connect, "127.0.0.1", port, timeout=5)
    assert time.monotonic() - started < 3
    assert "took longer than 1 s" in talk.error


def test_a_socket_stops_at_its_budget(serve):
    port = serve(forever(b"z" * 65536))
    sock = bounded.bounded(connect("127.0.0.1", port, 5), budget=100_000)
    with pytest.raises(bounded.TooMuch):
        while True:
            sock.recv(65536)
    sock.close()


def test_pop3_drip_is_told_with_what_came(serve, monkeypatch):
    monkeypatch.setattr(bounded, "SECONDS", 1.0)
    port = serve(lambda conn, stop: drip(conn, stop, line=b"+OK slow"))
    seen = pop3(connect, "127.0.0.1", "alice", "secret", port=port, timeout=5)
    assert "took longer than 1 s" in seen.describe() and f"port {port}" in seen.describe()


def test_a_check_out_of_memory_is_a_sentence_not_a_grader_bug():
    @check(step="greedy", hint="none")
    def hoards(host):
        raise MemoryError()

    class Host:
        def bounded_until(self, *args, **kwargs):
            import contextlib
            return contextlib.nullcontext()

    result = run_step([hoards], Host(), lab="lab", step="greedy")
    item = result.items[0]
    assert item.status is Status.ERROR
    assert f"more than {MEMORY_CAP // 2**20} MiB: your machine sent the grader too much" in item.detail
    assert "problem in the grader" not in (item.hint or "")


def test_267_mib_sent_at_the_probe_costs_it_little_memory():
    """In a process of its own, so the figure is the probe's peak (VmHWM), far below what was sent."""
    code = textwrap.dedent(f"""
        import socket, sys, threading
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from grader.smtp_probe import converse
        listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen(1)
        def flood():
            conn, _ = listener.accept()
            try:
                for _ in range(267 * 16):  # 267 MiB in 64 KiB pieces, if anyone reads it
                    conn.sendall((b"220-" + b"x" * 1020 + b"\\r\\n") * 64)
            except OSError:
                pass
        threading.Thread(target=flood, daemon=True).start()
        hwm = lambda: int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
        before = hwm()
        talk = converse(lambda h, p, t: socket.create_connection((h, p), t), "127.0.0.1",
                        listener.getsockname()[1], timeout=5)
        print(talk.error)
        print((hwm() - before) // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "more than 64 KiB before its greeting ended" in done.stdout
    assert int(done.stdout.split()[-1]) < 20, done.stdout  # MiB grown while the flood ran


@pytest.fixture
def tls_server_context(tmp_path):
    """A server SSLContext with a self-signed certificate for mail.example.test, and its DER."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context, cert.public_bytes(serialization.Encoding.DER)


def test_pop3_on_995_keeps_the_servers_certificate(serve, tls_server_context):
    """Implicit TLS (POP3S): the handshake comes first, and the certificate is kept for the check."""
    context, der = tls_server_context

    def talk(conn, stop):
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"+OK ready\r\n")
            tls.recv(100)  # USER
            tls.sendall(b"-ERR [AUTH] no\r\n")
            tls.recv(100)  # QUIT

    port = serve(talk)
    seen = pop3(connect, "127.0.0.1", "alice", "secret", port=port, implicit_tls=True, timeout=5)
    assert seen.connected and seen.tls.startswith("TLS") and seen.certificate == der
    assert seen.login_error == "-ERR [AUTH] no" and not seen.logged_in


def test_an_endless_greeting_inside_implicit_tls_is_bounded(serve, tls_server_context, monkeypatch):
    from grader.retrieval import imap

    monkeypatch.setattr(bounded, "BYTES", 200_000)
    context, _der = tls_server_context

    def talk(conn, stop):
        with context.wrap_socket(conn, server_side=True) as tls:
            while not stop.is_set():
                tls.sendall(b"* OK " + b"x" * 1000 + b"\r\n")

    port = serve(talk)
    seen = imap(connect, "127.0.0.1", "alice", "secret", port=port, implicit_tls=True, timeout=5)
    assert not seen.logged_in and "more than" in seen.describe()
