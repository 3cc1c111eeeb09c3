"""A learner's mail server that attacks the grader: a greeting that never ends, a drip of one byte at
a time, an IMAP literal of a gigabyte. Real sockets on loopback; each probe must come back soon, with
a sentence, having held little memory."""
from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from grader import bounded
from grader.retrieval import imap, pop3
from grader.smtp_probe import converse


def connect(host: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((host, port), timeout)


def hostile(talk):
    """A server on 127.0.0.1 that runs `talk(conn)` for each client until the test ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            try:
                talk(conn, stop)
            except OSError:
                pass
            finally:
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], stop


def endless_greeting(conn, stop):
    line = b"220-" + b"x" * 1000 + b"\r\n"
    while not stop.is_set():
        conn.sendall(line * 64)


def drip(conn, stop):
    for byte in b"220-slow\r\n" * 1000:
        if stop.is_set():
            return
        conn.sendall(bytes([byte]))
        time.sleep(0.05)


def huge_literal(conn, stop):
    conn.sendall(b"* OK IMAP ready\r\n")
    conn.recv(1000)  # the client's first command (CAPABILITY)
    conn.sendall(b"* CAPABILITY IMAP4rev1 {999999999}\r\n")
    while not stop.is_set():
        conn.sendall(b"y" * 65536)


def test_an_endless_smtp_greeting_is_cut_off_with_a_sentence():
    port, stop = hostile(endless_greeting)
    try:
        started = time.monotonic()
        talk = converse(connect, "127.0.0.1", port, timeout=5)
        assert time.monotonic() - started < 10
        assert talk.error and "KiB" in str(talk.error) or "200 lines" in str(talk.error), talk.error
    finally:
        stop.set()


def test_a_server_dripping_bytes_is_given_up_at_the_conversation_limit(monkeypatch):
    monkeypatch.setattr(bounded, "SECONDS", 1.5)
    port, stop = hostile(drip)
    try:
        started = time.monotonic()
        talk = converse(connect, "127.0.0.1", port, timeout=5)
        assert time.monotonic() - started < 5
        assert "longer than" in str(talk.error), talk.error
    finally:
        stop.set()


def test_a_gigabyte_imap_literal_is_not_read():
    port, stop = hostile(huge_literal)
    try:
        seen = imap(connect, "127.0.0.1", "alice", "secret", port=port, timeout=5)
        assert seen.error and "KiB" in str(seen.error), seen.error
    finally:
        stop.set()


def test_an_endless_pop3_greeting_is_cut_off():
    def endless(conn, stop):
        while not stop.is_set():
            conn.sendall(b"+OK " + b"z" * 60000)
    port, stop = hostile(endless)
    try:
        seen = pop3(connect, "127.0.0.1", "alice", "secret", port=port, timeout=5)
        assert seen.error, seen
    finally:
        stop.set()


@pytest.mark.parametrize("attack", ["endless_greeting", "huge_literal"])
def test_the_probes_peak_memory_stays_small(attack):
    """In a process of its own, so the figure is the probe's: far below the 267 MiB sent at it."""
    code = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {str(__import__('pathlib').Path(__file__).resolve().parents[2])!r})
        from tests.unit.test_hostile_servers import hostile, {attack}, connect
        from grader.smtp_probe import converse
        from grader.retrieval import imap
        port, stop = hostile({attack})
        hwm = lambda: int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
        before = hwm()
        if "{attack}" == "huge_literal":
            imap(connect, "127.0.0.1", "alice", "secret", port=port, timeout=5)
        else:
            converse(connect, "127.0.0.1", port, timeout=5)
        print((hwm() - before) // 1024)  # VmHWM: this program's own peak, in KiB
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) < 40, done.stdout  # MiB grown while the attack ran
