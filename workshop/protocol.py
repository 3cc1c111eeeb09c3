"""How a learner's programs talk to the grader service: one JSON object per line on a Unix socket.

A request may carry file descriptors (SCM_RIGHTS): a command run inside the machine then writes
straight to the learner's terminal or pipe. The service learns who is asking from the socket itself
(SO_PEERCRED), never from the request.
"""
from __future__ import annotations

import json
import socket
import struct
from typing import Any

MAX_MESSAGE = 1 << 20
MAX_FDS = 3


class ProtocolError(Exception):
    """The other side sent something that is not a message of this protocol."""


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = (json.dumps(message, ensure_ascii=False) + "\n").encode()
    if fds:
        sent = socket.send_fds(sock, [data], fds)
        data = data[sent:]
    if data:
        sock.sendall(data)


class Reader:
    """Reads messages (and any fds sent with them) from a stream socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""
        self.fds: list[int] = []

    def receive(self) -> dict[str, Any] | None:
        """The next message, or None when the other side closed the connection."""
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_MESSAGE:
                raise ProtocolError("message too long")
            chunk, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, MAX_FDS)
            self.fds += fds
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            raise ProtocolError("not JSON") from None
        if not isinstance(message, dict):
            raise ProtocolError("not a JSON object")
        return message


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end, as the kernel saw it connect."""
    data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", data)
