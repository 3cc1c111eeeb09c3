"""aiosmtpd's SMTP session, made to take what Postfix's smtpd takes, and able to record the conversation.

Learners speak SMTP by hand (`nc`, `telnet`), and `nc` ends lines with a bare LF. Postfix accepts
that, also to end DATA with "\\n.\\n"; aiosmtpd waits for CRLF there. So bare LFs become CRLF as the
bytes arrive, and the transcript (capture mode) keeps what the client really sent.

What one session can make the server hold is bounded: aiosmtpd keeps at most the size limit of
message data, but it gathers a line's pieces until the line ends, so a client that sends megabytes
without a line end is cut off (421) after LINE_GUARD bytes; the transcript keeps TRANSCRIPT_LINES
lines of at most TRANSCRIPT_LINE_CHARS characters each.
"""
from __future__ import annotations

import re

from aiosmtpd.smtp import SMTP

_BARE_LF = re.compile(rb"(?<!\r)\n")
TRANSCRIPT_LINES = 2000
TRANSCRIPT_LINE_CHARS = 1000     # SMTP's own line limit (RFC 5321: 1000 with CRLF); the rest is cut
LINE_GUARD = 64 * 1024           # bytes without a line end before the session is cut off
LINE_TOO_LONG = "421 4.7.0 Error: line too long, closing connection"


class LabSMTP(SMTP):
    def __init__(self, handler, *, record: bool = False, **kwargs) -> None:
        super().__init__(handler, **kwargs)
        # ("client" | "server", one line with its line end), in the order they crossed the wire
        self.transcript: list[tuple[str, str]] | None = [] if record else None
        self._partial = b""
        self._after_cr = False
        self._line_bytes = 0  # bytes received since the last line end

    def data_received(self, data: bytes) -> None:
        end = data.rfind(b"\n")
        self._line_bytes = self._line_bytes + len(data) if end < 0 else len(data) - end - 1
        if self._line_bytes > LINE_GUARD:
            self._cut_off()
            return
        if self.transcript is not None:
            self._record_client(data)
        if self._after_cr and data.startswith(b"\n"):
            fixed = b"\n" + _BARE_LF.sub(b"\r\n", data[1:])
        else:
            fixed = _BARE_LF.sub(b"\r\n", data)
        self._after_cr = data.endswith(b"\r")
        super().data_received(fixed)

    def _cut_off(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if self.transcript is not None and len(self.transcript) < TRANSCRIPT_LINES:
                self.transcript.append(("server", LINE_TOO_LONG + "\r\n"))
            self.transport.write(LINE_TOO_LONG.encode("ascii") + b"\r\n")
            self.transport.close()

    async def push(self, status) -> None:
        if self.transcript is not None and len(self.transcript) < TRANSCRIPT_LINES:
            line = status if isinstance(status, str) else status.decode("utf-8", "backslashreplace")
            self.transcript.append(("server", line + "\r\n"))
        await super().push(status)

    def _record_client(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines[:max(TRANSCRIPT_LINES - len(self.transcript), 0)]:  # a flood is not kept
            self.transcript.append(("client", _cut(line + b"\n")))


def _cut(line: bytes) -> str:
    """One client line as the transcript keeps it: at most TRANSCRIPT_LINE_CHARS characters."""
    text = line.decode("utf-8", "backslashreplace")
    if len(text) <= TRANSCRIPT_LINE_CHARS:
        return text
    return text[:TRANSCRIPT_LINE_CHARS] + f"[... {len(text) - TRANSCRIPT_LINE_CHARS} more characters]\n"
