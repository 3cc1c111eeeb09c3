"""Sockets whose every read is bounded: a conversation's total bytes and its total time.

A mail server in a learner's machine may greet with 267 MiB, send an endless multi-line reply, or
one byte a second. smtplib, poplib and imaplib bound a line, not a conversation: every probe's
socket is wrapped here, and after STARTTLS its TLS socket too (an SSLContext whose sslsocket_class
keeps the same bounds), so a hostile server costs the grader at most BYTES and SECONDS.
"""
from __future__ import annotations

import socket
import ssl
import time

BYTES = 4 * 2**20  # what one conversation may send us
SECONDS = 30.0     # how long one conversation may last, whatever each wait's timeout


class TooMuch(OSError):
    """The server sent more than a conversation may."""


class TooSlow(TimeoutError):
    """The conversation went on longer than it may, however each wait went."""


class _Limits:
    def __init__(self, budget: int, deadline: float) -> None:
        self.budget, self.deadline, self.received = budget, deadline, 0

    def before(self, sock) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TooSlow("the conversation took too long")
        timeout = sock.gettimeout()
        if timeout is None or timeout > remaining:
            sock.settimeout(remaining)

    def timed_out(self) -> None:
        """A wait ran out: at the conversation's own deadline, that is the reason to give."""
        if time.monotonic() >= self.deadline - 0.01:
            raise TooSlow("the conversation took too long") from None

    def after(self, count: int) -> int:
        self.received += count
        if self.received > self.budget:
            raise TooMuch("the server sent more than %d KiB" % (self.budget // 1024))
        return count


class BoundedSocket(socket.socket):
    limits: _Limits

    def recv(self, bufsize, flags=0):
        self.limits.before(self)
        try:
            data = super().recv(bufsize, flags)
        except TimeoutError:
            self.limits.timed_out()
            raise
        self.limits.after(len(data))
        return data

    def recv_into(self, buffer, nbytes=0, flags=0):
        self.limits.before(self)
        try:
            return self.limits.after(super().recv_into(buffer, nbytes, flags))
        except TimeoutError:
            self.limits.timed_out()
            raise


class BoundedSSLSocket(ssl.SSLSocket):
    limits: _Limits | None = None  # set right after the handshake (which reads no more than TLS needs)

    def read(self, len=1024, buffer=None):  # noqa: A002 - ssl's own signature; recv and recv_into come here
        if self.limits is None:
            return super().read(len, buffer)
        self.limits.before(self)
        try:
            result = super().read(len, buffer)
        except TimeoutError:
            self.limits.timed_out()
            raise
        self.limits.after(result if isinstance(result, int) else builtins_len(result))
        return result


builtins_len = len


def bounded(sock: socket.socket, *, budget: int | None = None, seconds: float | None = None) -> BoundedSocket:
    """`sock` (a connected socket) with its reads bounded (BYTES, SECONDS unless said); the original
    object is detached."""
    timeout = sock.gettimeout()
    wrapped = BoundedSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    wrapped.settimeout(timeout)
    wrapped.limits = _Limits(BYTES if budget is None else budget,
                             time.monotonic() + (SECONDS if seconds is None else seconds))
    return wrapped


class BoundedContext(ssl.SSLContext):
    """An SSLContext whose sockets keep the bounds of the plain socket they wrap."""
    sslsocket_class = BoundedSSLSocket

    def wrap_socket(self, sock, *args, **kwargs):
        wrapped = super().wrap_socket(sock, *args, **kwargs)
        wrapped.limits = getattr(sock, "limits", None) or _Limits(BYTES, time.monotonic() + SECONDS)
        return wrapped


def insecure_context() -> BoundedContext:
    """A client context that does not verify (the lab's certificates are its own), with bounds."""
    context = BoundedContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
