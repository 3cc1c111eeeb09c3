"""aiosmtpd's SMTP session, made to take what Postfix's smtpd takes, and able to record the conversation.

Learners speak SMTP by hand (`nc`, `telnet`), and `nc` ends lines with a bare LF. Postfix accepts
that, also to end DATA with "\\n.\\n"; aiosmtpd waits for CRLF there. So bare LFs become CRLF as the
bytes arrive, and the transcript (capture mode) keeps what the client really sent.
"""
from __future__ import annotations

import re

from aiosmtpd.smtp import SMTP

_BARE_LF = re.compile(rb"(?<!\r)\n")
TRANSCRIPT_LINES = 2000


class LabSMTP(SMTP):
    def __init__(self, handler, *, record: bool = False, **kwargs) -> None:
        super().__init__(handler, **kwargs)
        # ("client" | "server", one line with its line end), in the order they crossed the wire
        self.transcript: list[tuple[str, str]] | None = [] if record else None
        self._partial = b""
        self._after_cr = False

    def data_received(self, data: bytes) -> None:
        if self.transcript is not None:
            self._record_client(data)
        if self._after_cr and data.startswith(b"\n"):
            fixed = b"\n" + _BARE_LF.sub(b"\r\n", data[1:])
        else:
            fixed = _BARE_LF.sub(b"\r\n", data)
        self._after_cr = data.endswith(b"\r")
        super().data_received(fixed)

    async def push(self, status) -> None:
        if self.transcript is not None and len(self.transcript) < TRANSCRIPT_LINES:
            line = status if isinstance(status, str) else status.decode("utf-8", "backslashreplace")
            self.transcript.append(("server", line + "\r\n"))
        await super().push(status)

    def _record_client(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines[:max(TRANSCRIPT_LINES - len(self.transcript), 0)]:  # a flood is not kept
            self.transcript.append(("client", (line + b"\n").decode("utf-8", "backslashreplace")))
