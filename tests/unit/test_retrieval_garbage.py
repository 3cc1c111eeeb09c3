"""Does the IMAP probe give a sentence, never a grader bug, whatever a server in the learner's machine
answers? A real TCP server on localhost plays a broken IMAP server, line by line."""
from __future__ import annotations

import socket
import socketserver
import threading

import pytest

from grader.retrieval import imap


class BrokenIMAP(socketserver.StreamRequestHandler):
    """Says OK to everything but never reports how many messages INBOX holds (no `* N EXISTS`)."""
    answers: dict[bytes, list[bytes]] = {}

    def handle(self) -> None:
        self.wfile.write(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
        while line := self.rfile.readline():
            tag, _, rest = line.strip().partition(b" ")
            command = rest.split(b" ", 1)[0].upper()
            for extra in self.answers.get(command, []):
                self.wfile.write(extra + b"\r\n")
            if command == b"CAPABILITY":
                self.wfile.write(b"* CAPABILITY IMAP4rev1\r\n")
            self.wfile.write(tag + b" OK done\r\n")
            if command == b"LOGOUT":
                return


@pytest.fixture
def server():
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), BrokenIMAP) as srv:
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        yield srv.server_address
        srv.shutdown()


def connect(host: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((host, port), timeout)


@pytest.mark.parametrize("select_says", [[], [b"* EXISTS"], [b"* 99999999999999999999999 EXISTS"]])
def test_a_select_without_a_message_count_is_no_grader_bug(server, monkeypatch, select_says):
    monkeypatch.setattr(BrokenIMAP, "answers", {b"SELECT": select_says, b"LIST": [b'* LIST () "/" INBOX']})
    host, port = server
    seen = imap(connect, host, "alice", "secret", tag="abc", port=port, timeout=3)
    assert seen.logged_in
    assert seen.messages is None or seen.messages >= 0


class BrokenPOP3(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(b"+OK ready\r\n")
        while line := self.rfile.readline():
            command = line.split(b" ", 1)[0].strip().upper()
            self.wfile.write(b"+OK lots\r\n" if command == b"STAT" else b"+OK\r\n")
            if command == b"QUIT":
                return


def test_a_pop3_count_that_is_no_number_is_said_in_words():
    from grader.retrieval import pop3

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), BrokenPOP3) as srv:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            seen = pop3(connect, *srv.server_address[:1], "alice", "secret", tag="abc", port=srv.server_address[1],
                        timeout=3)
        finally:
            srv.shutdown()
    assert seen.logged_in and "STAT" in seen.error
