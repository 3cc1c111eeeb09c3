"""Sockets whose every read is bounded: a conversation's total bytes and its total time.

A mail server in a learner's machine may greet with 267 MiB, send an endless multi-line reply, or
one byte a second. smtplib, poplib and imaplib bound a line, not a conversation: every probe's
socket is wrapped here, and after STARTTLS its TLS socket too (an SSLContext whose sslsocket_class
keeps the same bounds), so a hostile server costs the grader at most BYTES and SECONDS.
"""
from __future__ import annotations

import contextlib
import contextvars
import socket
import ssl
import time
from typing import Iterator

from .errors import TooMuch, TooSlow

BYTES = 4 * 2**20  # what one conversation may send us
SECONDS = 30.0     # how long one conversation may last, whatever each wait's timeout

# The end (time.monotonic) of the step being checked, set by the runner: a conversation never
# outlasts its step, so a slow server fails its own check with a sentence before the step is cut off.
_step_end: contextvars.ContextVar[float | None] = contextvars.ContextVar("step_end", default=None)


@contextlib.contextmanager
def until(end: float | None) -> Iterator[None]:
    """Conversations begun inside end by `end` (a time.monotonic value) at the latest."""
    token = _step_end.set(end)
    try:
        yield
    finally:
        _step_end.reset(token)






class _Limits:
    def __init__(self, budget: int, seconds: float) -> None:
        started = time.monotonic()
        end = _step_end.get()
        self.deadline = started + seconds if end is None else min(started + seconds, end)
        self.seconds = max(0.0, self.deadline - started)  # what the learner is told
        self.budget, self.received = budget, 0

    def before(self, sock) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TooSlow(self.seconds, self.received)
        timeout = sock.gettimeout()
        if timeout is None or timeout > remaining:
            sock.settimeout(remaining)

    def timed_out(self) -> None:
        """A wait ran out: at the conversation's own deadline, that is the reason to give."""
        if time.monotonic() >= self.deadline - 0.01:
            raise TooSlow(self.seconds, self.received) from None

    def after(self, count: int) -> int:
        self.received += count
        if self.received > self.budget:
            raise TooMuch(self.budget)
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
    wrapped.limits = _Limits(BYTES if budget is None else budget, SECONDS if seconds is None else seconds)
    return wrapped


class BoundedContext(ssl.SSLContext):
    """An SSLContext whose sockets keep the bounds of the plain socket they wrap."""
    sslsocket_class = BoundedSSLSocket

    def wrap_socket(self, sock, *args, **kwargs):
        wrapped = super().wrap_socket(sock, *args, **kwargs)
        wrapped.limits = getattr(sock, "limits", None) or _Limits(BYTES, SECONDS)
        return wrapped


def insecure_context() -> BoundedContext:
    """A client context that does not verify (the lab's certificates are its own), with bounds."""
    context = BoundedContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
