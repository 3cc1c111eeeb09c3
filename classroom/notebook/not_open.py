"""What `lab` means before the lab's first cell has run, for example after a kernel restart.

The MailLab kernel starts with `lab` bound to a stand-in, so a check cell run too early answers
with one sentence saying what to do, instead of a NameError traceback.
"""
from __future__ import annotations

from typing import Any

from grader.i18n import N_, Msg, Text, say, tr

# What the learner reads (English; shown in the learner's language with tr).
NOT_OPEN = N_("The lab is not open in this notebook's kernel (the kernel was restarted, or the lab's "
              "first cell has not run yet): run the lab's first cell, then this cell again.")


class LabNotReady(Exception):
    """Shown in the notebook as its sentence alone (IPython's _render_traceback_ hook), in the
    learner's language when it was raised with a message (`_()`)."""

    def _render_traceback_(self) -> list[str]:
        return [say(self)]


def message_of(exc: BaseException) -> str:
    """An exception's sentence as a message when it was raised with one (translated when shown,
    also as a parameter of another message), else its text."""
    arg = exc.args[0] if len(exc.args) == 1 else None
    return arg if isinstance(arg, Text) else str(exc)


class LabNotOpen:
    """Stands in for `lab` until `lab = open_lab(...)` runs; every use says what to do."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # IPython's display and completion machinery probes these
            raise AttributeError(name)
        raise LabNotReady(Msg(NOT_OPEN, {}))

    def __repr__(self) -> str:
        return tr(NOT_OPEN)


def install(user_ns: dict) -> None:
    """Bind `lab` to the stand-in, unless the notebook already has a `lab` of its own."""
    user_ns.setdefault("lab", LabNotOpen())
