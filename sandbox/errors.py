"""Errors the sandbox raises. Each message is a plain sentence a learner can act on, written in
English as a message id (`_("Machine {name} is not running", name=...)`) that the grader shows in
the learner's language (grader/i18n.py; the sandbox itself needs nothing of the grader)."""
from __future__ import annotations

from typing import Any


class Text(str):
    """English text that keeps its message id and parameters, for translation when shown."""

    __slots__ = ("msgid", "params")
    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, params: dict[str, Any]) -> "Text":
        self = super().__new__(cls, msgid.format(**params) if params else msgid)
        self.msgid = msgid
        self.params = params
        return self

    def __reduce__(self):
        return (type(self), (self.msgid, self.params))


def _(msgid: str, /, **params: Any) -> Text:
    """Mark a literal English sentence (named `{placeholders}`) as learner-facing text."""
    return Text(msgid, params)


class SandboxError(Exception):
    """The sandbox could not do what was asked (missing image, machine not running, ...)."""


class MachineNotRunning(SandboxError):
    """The machine exists on disk but its processes are not running (or it was never created)."""


class CommandTimeout(SandboxError):
    """A command inside a machine did not finish within its time bound; it was killed."""

    def __init__(self, argv, timeout, output=b""):
        self.argv = list(argv)
        self.timeout = timeout
        self.output = output
        shown = " ".join(self.argv)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(_("The command `{command}` did not finish within {timeout:g} s and was stopped.",
                           command=shown, timeout=timeout))
