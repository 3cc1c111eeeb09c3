"""Every error type of the checking kernel, in one place.

Errors a learner or instructor sees are one plain sentence, never a traceback: `MailLabError` (and
`UsageError`) for what the user can fix, `Fail` for a machine not in the wanted state. The others
are raised and caught inside the kernel. Two kinds of Fail build their own sentence where the
knowledge is: `grader.probes.MissingCommand` and `grader.machinefiles.UnreadableFile`.
"""
from __future__ import annotations

from sandbox.errors import SandboxError


class MailLabError(Exception):
    """Something the user can fix; the message says what is wrong and what to do."""


class UsageError(MailLabError):
    """A wrong command line, an unknown lab or step (CLI exit code 2)."""


class Fail(Exception):
    """The learner's machine is not in the wanted state. `detail` says what was seen; `hint` what to
    do. `ladder` instead of `hint`: hints that climb, one rung per earlier FAIL about the same thing
    (`about`, e.g. one fault of several): the symptom first, then where to look, then what is wrong."""

    def __init__(self, detail: str, hint: str | None = None, *, ladder: tuple[str, ...] = (),
                 about: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint
        self.ladder = tuple(ladder)
        self.about = about


class ChecksError(Exception):
    """A lab's checks.py cannot be loaded or declares its checks wrongly (an author's mistake)."""


class StepOutOfTime(SandboxError):
    """The step's overall time limit ran out before a command could start."""


class NotACertificate(ValueError):
    """The bytes hold no certificate (or no key) that can be read."""


class NoMessage(LookupError):
    """No message to draw; the text says what to do."""


class TooMuch(OSError):
    """The server sent more than a conversation may."""

    def __init__(self, budget: int) -> None:
        super().__init__("the server sent more than %d KiB" % (budget // 1024))
        self.budget = budget


class TooSlow(TimeoutError):
    """The conversation went on longer than it may, however each wait went."""

    def __init__(self, seconds: float, received: int) -> None:
        super().__init__("the conversation took more than %g s" % seconds)
        self.seconds, self.received = seconds, received
