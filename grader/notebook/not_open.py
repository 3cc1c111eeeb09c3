"""What `lab` means before the lab's first cell has run, for example after a kernel restart.

The MailLab kernel starts with `lab` bound to a stand-in, so a check cell run too early answers
with one sentence saying what to do, instead of a NameError traceback.
"""
from __future__ import annotations

from typing import Any

# What the learner reads, in one place (a translated edition replaces it).
NOT_OPEN = ("The lab is not open in this notebook's kernel (the kernel was restarted, or the lab's "
            "first cell has not run yet): run the lab's first cell, then this cell again.")


class LabNotReady(Exception):
    """Shown in the notebook as its sentence alone (IPython's _render_traceback_ hook)."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


class LabNotOpen:
    """Stands in for `lab` until `lab = open_lab(...)` runs; every use says what to do."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # IPython's display and completion machinery probes these
            raise AttributeError(name)
        raise LabNotReady(NOT_OPEN)

    def __repr__(self) -> str:
        return NOT_OPEN


def install(user_ns: dict) -> None:
    """Bind `lab` to the stand-in, unless the notebook already has a `lab` of its own."""
    user_ns.setdefault("lab", LabNotOpen())
