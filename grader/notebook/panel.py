"""The Check button at the end of a step, with the step's result under it."""
from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any

import ipywidgets as widgets

from grader.errors import MailLabError
from grader.result import Status, StepResult
from sandbox.errors import SandboxError

from . import session_thread

IDLE_ICON = "check"
BUSY_ICON = "spinner spin"  # Font Awesome classes fa-spinner fa-spin: a turning spinner


def problem_sentence(exc: BaseException, doing: str = "check this step") -> str:
    """What to tell the learner when the grader itself failed: one sentence, never a traceback."""
    if isinstance(exc, (MailLabError, SandboxError)) and str(exc):
        return str(exc)
    return (f"Could not {doing}: the grader hit an unexpected problem "
            f"({type(exc).__name__}: {exc}). Try again; if it keeps happening, tell your instructor.")


def problem_html(exc: BaseException, doing: str = "check this step") -> str:
    return ('<p class="maillab-problem" role="alert"><span aria-hidden="true">\u26a0</span> '
            f"<strong>Problem:</strong> {_prose(problem_sentence(exc, doing))}</p>")


def result_html(result: StepResult, *, remembered: bool = False) -> str:
    """A result as the learner reads it: status (icon and word), what failed, the hint, and the
    grader's full report folded away under "What the grader saw"."""
    if not result.items:  # a solve/reset marker in the gradebook, not a check
        return NOT_CHECKED
    status, problem = result.status, result.first_problem
    passed, total = result.counts[Status.PASS], len(result.items)
    if status is Status.PASS:
        headline = "the check passed." if total == 1 else f"all {total} checks passed."
    elif problem is not None and status is Status.ERROR:
        headline = f"the grader could not finish \u201c{problem.title}\u201d ({passed} of {total} checks passed)"
    elif problem is not None:
        headline = f"not passed yet: \u201c{problem.title}\u201d ({passed} of {total} checks passed)"
    else:
        headline = f"{passed} of {total} checks passed; the others did not run."
    parts = []
    if remembered:
        parts.append(f"<p><em>Your last check{_when(result.started_at)}:</em></p>")
    parts.append(f'<p class="maillab-status maillab-{status.value.lower()}">'
                 f'<span aria-hidden="true">{status.icon}</span> <strong>{status.label}</strong>'
                 f" \u2014 {_prose(headline)}</p>")
    if problem is not None and problem.detail:
        parts.append(f"<p><em>The grader saw:</em> {_prose(problem.detail)}</p>")
    if problem is not None and problem.hint:
        parts.append(f'<p class="maillab-hint"><strong>Hint:</strong> {_prose(problem.hint)}</p>')
    if status is Status.ERROR:
        parts.append("<p>This means the grader or your machine broke, not that your work is wrong. "
                     "Try again; if it keeps happening, tell your instructor.</p>")
    parts.append(f"<details><summary>What the grader saw, check by check</summary>{result.to_html()}</details>")
    return "".join(parts)


NOT_CHECKED = "<p>Not checked yet: press <strong>Check</strong> when you have done this step.</p>"


class CheckPanel(widgets.VBox):
    """A Check button for one step of a lab session, and the step's latest result.

    A click runs the check on the session thread, so the notebook stays usable meanwhile; a click
    while a check is running is ignored (the button is disabled too).
    """

    def __init__(self, session: Any, step_id: str):
        self.session = session
        self.step_id = step_id
        self.button = widgets.Button(description="Check", icon=IDLE_ICON,
                                     tooltip="Ask the grader to check this step")
        self.activity = widgets.HTML("")
        self.result_area = widgets.HTML("")
        self.pending: Future | None = None
        self._listeners: list[Callable[[StepResult | None], None]] = []
        self._lock = threading.Lock()
        self._running = False
        super().__init__([widgets.HBox([self.button, self.activity]), self.result_area])
        self.add_class("maillab-check-panel")
        self.button.on_click(lambda _button: self.check())
        self._show_last_result()

    def on_result(self, listener: Callable[[StepResult | None], None]) -> None:
        """Call listener(result) after each check (None when the check could not run)."""
        self._listeners.append(listener)

    @property
    def running(self) -> bool:
        return self._running

    def check(self) -> Future | None:
        """Start a check; returns its Future, or None if one is already running."""
        with self._lock:
            if self._running:
                return None
            self._running = True
        self.button.disabled = True
        self.button.icon = BUSY_ICON
        self.activity.value = ('<span role="status" aria-live="polite">Checking\u2026 '
                               "this can take a few seconds.</span>")
        self.pending = session_thread.submit(self._run_check)
        return self.pending

    def show_result(self, result: StepResult | None, *, remembered: bool = False) -> None:
        try:
            self.result_area.value = NOT_CHECKED if result is None else result_html(result, remembered=remembered)
        except Exception as exc:  # a result we cannot draw must not leave a traceback in a log
            self.result_area.value = problem_html(exc, "show the result")

    def _run_check(self) -> StepResult | None:
        result = None
        try:
            result = self.session.check(self.step_id)
            self.show_result(result)
        except Exception as exc:
            self.result_area.value = problem_html(exc)
        finally:
            self.activity.value = ""
            self.button.icon = IDLE_ICON
            self.button.disabled = False
            with self._lock:
                self._running = False
        for listener in self._listeners:
            try:
                listener(result)
            except Exception:
                pass  # the result is shown; a progress bar that failed to update is not worth more
        return result

    def _show_last_result(self) -> None:
        try:
            last = session_thread.call(self.session.last_result, self.step_id)
        except Exception as exc:
            self.result_area.value = problem_html(exc, "read your last result")
            return
        self.show_result(last, remembered=True)


_CODE = re.compile(r"`([^`]+)`")


def _prose(text: str) -> str:
    # Escape first: details quote what the learner's machine said, which must never become markup.
    return _CODE.sub(r"<code>\1</code>", html.escape(text, quote=True))


def _when(started_at: str) -> str:
    try:
        moment = datetime.fromisoformat(started_at)
    except (TypeError, ValueError):
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone()  # the learner's local time
    return f", {moment:%Y-%m-%d} at {moment:%H:%M}"
