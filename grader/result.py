"""The outcome of checking one step, and its three surfaces: terminal text, HTML, JSON."""
from __future__ import annotations

import enum
import html
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from .i18n import N_, tr


class Status(str, enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    NOT_RUN = "NOT_RUN"

    @property
    def label(self) -> str:
        """The status as a learner reads it, in their language (the value stays the code)."""
        return tr(_LABELS[self])

    @property
    def icon(self) -> str:
        return _ICONS[self]


_LABELS = {Status.PASS: N_("PASS"), Status.FAIL: N_("FAIL"), Status.ERROR: N_("ERROR"),
           Status.NOT_RUN: N_("NOT RUN")}
_ICONS = {Status.PASS: "\u2714", Status.FAIL: "\u2718", Status.ERROR: "\u26a0", Status.NOT_RUN: "\u25cb"}
# Colour only reinforces the icon and the word: it is never the sole carrier of the status.
_COLOURS = {Status.PASS: "#1a7f37", Status.FAIL: "#b42318", Status.ERROR: "#9a6700", Status.NOT_RUN: "#57606a"}


@dataclass(frozen=True)
class ItemResult:
    name: str
    title: str
    status: Status
    detail: str = ""
    hint: str | None = None
    duration: float = 0.0
    hint_level: int = 0  # the rung of the check's hint ladder shown (0: the first)
    about: str = ""  # a FAIL with a ladder of its own: what it was about (its rungs are counted by it)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status.value,
            "detail": self.detail,
            "hint": self.hint,
            "duration": self.duration,
            "hint_level": self.hint_level,
            "about": self.about,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ItemResult":
        return cls(
            name=str(data["name"]),
            title=str(data.get("title", data["name"])),
            status=Status(data["status"]),
            detail=str(data.get("detail") or ""),
            hint=data.get("hint"),
            duration=float(data.get("duration") or 0.0),
            hint_level=int(data.get("hint_level") or 0),
            about=str(data.get("about") or ""),
        )


@dataclass(frozen=True)
class StepResult:
    lab: str
    step: str
    items: tuple[ItemResult, ...] = field(default_factory=tuple)
    started_at: str = ""
    duration: float = 0.0

    def __post_init__(self) -> None:
        # Lists would make equality and hashing depend on how the result was built.
        object.__setattr__(self, "items", tuple(self.items))

    @property
    def status(self) -> Status:
        statuses = {item.status for item in self.items}
        if not statuses or statuses == {Status.NOT_RUN}:
            return Status.NOT_RUN
        if Status.ERROR in statuses:
            return Status.ERROR
        if Status.FAIL in statuses:
            return Status.FAIL
        if statuses == {Status.PASS}:
            return Status.PASS
        return Status.NOT_RUN  # some passed, the rest never ran: the step is not done

    @property
    def passed(self) -> bool:
        return self.status is Status.PASS

    @property
    def first_problem(self) -> ItemResult | None:
        for item in self.items:
            if item.status in (Status.FAIL, Status.ERROR):
                return item
        return None

    @property
    def counts(self) -> dict[Status, int]:
        return {status: sum(1 for i in self.items if i.status is status) for status in Status}

    # -- text -------------------------------------------------------------------------------

    def summary(self) -> str:
        return tr("Lab {lab}, step {step}: {status} ({passed} of {total} checks passed, {seconds} s)",
                  lab=self.lab, step=self.step, status=self.status.label, passed=self.counts[Status.PASS],
                  total=len(self.items), seconds=f"{self.duration:.2f}")

    def __str__(self) -> str:
        lines = [self.summary()]
        for item in self.items:
            line = f"{pad(item.status.label, 5)} {item.title}"
            if item.detail:
                line += f" \u2014 {item.detail}"
            lines.append(line)
            if item.hint and item.status in (Status.FAIL, Status.ERROR):
                lines.append("  " + tr("hint: {hint}", hint=item.hint))
        return "\n".join(lines)

    # -- HTML -------------------------------------------------------------------------------

    def to_html(self) -> str:
        rows = "".join(_item_html(item) for item in self.items)
        colour = _COLOURS[self.status]
        return (
            '<div class="maillab-result" style="font-family:sans-serif;line-height:1.4">'
            f'<p style="margin:0 0 .4em 0;font-weight:bold;color:{colour}">'
            f'<span aria-hidden="true">{self.status.icon}</span> {_esc(self.summary())}</p>'
            f'<ul style="list-style:none;padding-left:0;margin:0">{rows}</ul></div>'
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    # -- JSON -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "lab": self.lab,
            "step": self.step,
            "status": self.status.value,
            "started_at": self.started_at,
            "duration": self.duration,
            "items": [item.to_dict() for item in self.items],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StepResult":
        # "status" is derived from the items, so a stored one is ignored rather than trusted.
        return cls(
            lab=str(data["lab"]),
            step=str(data["step"]),
            items=tuple(ItemResult.from_dict(i) for i in data.get("items", [])),
            started_at=str(data.get("started_at") or ""),
            duration=float(data.get("duration") or 0.0),
        )

    @classmethod
    def from_json(cls, text: str) -> "StepResult":
        return cls.from_dict(json.loads(text))


_CODE = re.compile(r"`([^`]+)`")


def width(text: str) -> int:
    """Columns `text` takes in a terminal: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, columns: int) -> str:
    """`text` left-aligned in `columns` terminal columns (like f"{text:<columns}" for ASCII)."""
    return text + " " * max(0, columns - width(text))


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _prose_html(text: str) -> str:
    # Hints are authored with `backticks` for commands; escaping first keeps learner-controlled
    # details (file contents, log lines) from ever becoming markup.
    return _CODE.sub(r"<code>\1</code>", _esc(text))


def _item_html(item: ItemResult) -> str:
    colour = _COLOURS[item.status]
    parts = [
        f'<li class="maillab-item maillab-{item.status.value.lower()}" style="margin:.2em 0">',
        f'<span style="color:{colour};font-weight:bold" aria-hidden="true">{item.status.icon}</span> ',
        f'<strong style="color:{colour}">{_esc(item.status.label)}</strong> ',
        f'<span>{_esc(item.title)}</span>',
    ]
    if item.detail:
        parts.append(f' \u2014 <span class="maillab-detail">{_prose_html(item.detail)}</span>')
    if item.hint and item.status in (Status.FAIL, Status.ERROR):
        label = _esc(tr("Hint:"))
        parts.append(f'<div class="maillab-hint" style="margin-left:1.6em"><em>{label}</em> '
                     f'{_prose_html(item.hint)}</div>')
    parts.append("</li>")
    return "".join(parts)
