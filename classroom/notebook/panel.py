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
from grader.i18n import N_, Msg, Text, _, language, tr, translate
from grader.result import Status, StepResult
from sandbox.errors import SandboxError

from . import session_thread
from .not_open import message_of

IDLE_ICON = "check"
BUSY_ICON = "spinner spin"  # Font Awesome classes fa-spinner fa-spin: a turning spinner


def problem_message(exc: BaseException, doing: str | None = None) -> str:
    """What to tell the learner when the grader itself failed: one sentence, never a traceback.
    A message (translated when shown) when it can be one; `doing` says what could not be done
    (a `_()` message such as `_("check this step")`; default: checking this step)."""
    if isinstance(exc, (MailLabError, SandboxError)) and str(exc):
        return message_of(exc)
    if doing is None:
        doing = _("check this step")
    elif not isinstance(doing, Msg):  # plain text: shown translated when the catalog has it
        doing = Msg(doing, {})
    return _("Could not {doing}: the grader hit an unexpected problem ({kind}: {error}). "
             "Try again; if it keeps happening, tell your instructor.",
             doing=doing, kind=type(exc).__name__, error=message_of(exc))


def problem_sentence(exc: BaseException, doing: str | None = None) -> str:
    """problem_message() in the learner's language, as text."""
    return str(translate(problem_message(exc, doing)))


def problem_html(exc: BaseException, doing: str | None = None) -> str:
    return _problem_paragraph(problem_sentence(exc, doing))


def _problem_paragraph(sentence: str) -> str:
    return ('<p class="maillab-problem" role="alert"><span aria-hidden="true">\u26a0</span> '
            f"<strong>{html.escape(tr(TEXT['problem']))}</strong> {prose(sentence)}</p>")


def shown(text: Any) -> str:
    """Text read from a lab's files or a result, in the learner's language: a message is
    translated; plain English text (a title, an option, a stored hint) is looked up in the catalog."""
    if isinstance(text, Text):
        return str(translate(text))
    return tr(text) if isinstance(text, str) and text else ("" if text is None else str(text))


# The status words as the panel shows them (the Status values themselves never change).
STATUS_WORD = {Status.PASS: N_("PASS"), Status.FAIL: N_("FAIL"), Status.ERROR: N_("ERROR"),
               Status.NOT_RUN: N_("NOT RUN")}


def status_word(status: Status) -> str:
    return tr(STATUS_WORD[status])


def result_html(result: StepResult, *, remembered: bool = False) -> str:
    """A result as the learner reads it: status (icon and word), what failed, the hint, and the
    grader's full report folded away under "What the grader saw"."""
    if not result.items:  # a solve/reset marker in the gradebook, not a check
        return not_checked_html()
    status, problem = result.status, result.first_problem
    passed, total = result.counts[Status.PASS], len(result.items)
    if status is Status.PASS:
        headline = tr("the check passed.") if total == 1 else tr("all {total} checks passed.", total=total)
    elif problem is not None and status is Status.ERROR:
        headline = tr("the grader could not finish \u201c{title}\u201d ({passed} of {total} checks passed)",
                      title=shown(problem.title), passed=passed, total=total)
    elif problem is not None:
        headline = tr("not passed yet: \u201c{title}\u201d ({passed} of {total} checks passed)",
                      title=shown(problem.title), passed=passed, total=total)
    else:
        headline = tr("{passed} of {total} checks passed; the others did not run.", passed=passed, total=total)
    parts = [f'<p class="maillab-checked-at"><em>{html.escape(_checked_at(result, remembered))}</em></p>']
    parts.append(f'<p class="maillab-status maillab-{status.value.lower()}">'
                 f'<span aria-hidden="true">{status.icon}</span> <strong>{html.escape(status_word(status))}</strong>'
                 f" \u2014 {prose(headline)}</p>")
    if problem is not None and problem.detail:
        parts.append(f"<p><em>{html.escape(tr(TEXT['saw']))}</em> {prose(shown(problem.detail))}</p>")
    if problem is not None and problem.hint:
        parts.append(f'<p class="maillab-hint"><strong>{html.escape(tr(TEXT["hint"]))}</strong> '
                     f"{prose(shown(problem.hint))}</p>")
    if status is Status.ERROR:
        not_yours = tr("This means the grader or your machine broke, not that your work is wrong. "
                       "Try again; if it keeps happening, tell your instructor.")
        parts.append(f"<p>{prose(not_yours)}</p>")
    parts.append(f"<details><summary>{html.escape(tr(TEXT['details']))}</summary>"
                 f"{result.to_html()}</details>")
    return "".join(parts)


def not_checked_html() -> str:
    """What a panel says before the step's first check."""
    check = f"<strong>{html.escape(tr(TEXT['check']))}</strong>"
    return f"<p>{tr(TEXT['not_checked'], check=check)}</p>"


# What the panel says, in one place (English; shown in the learner's language with tr).
TEXT = {
    "check": N_("Check"),
    "check_named": N_("Check \u201c{title}\u201d"),
    "reset_named": N_("Reset the step \u201c{title}\u201d"),
    "skip_named": N_("Skip to the step \u201c{title}\u201d"),
    "panel_named": N_("Check of the step \u201c{title}\u201d"),
    "check_tip": N_("Ask the grader to check this step"),
    "reset": N_("Reset this step"),
    "reset_tip": N_("Put your machine back to how it was at the start of this step"),
    "reset_ask": N_("Put your machine back to how it was at the start of this step? "
                    "Everything you changed on it since then is lost."),
    "reset_yes": N_("Yes, reset"),
    "skip": N_("Skip to here"),
    "skip_tip": N_("Apply the reference solutions of the earlier steps, so you can start this step now"),
    "skip_ask": N_("Apply the reference solutions of the earlier steps to your machine? "
                   "The gradebook notes that you skipped them."),
    "skip_yes": N_("Yes, skip"),
    "cancel": N_("Cancel"),
    "checking": N_("Checking\u2026 this can take a few seconds."),
    "resetting": N_("Resetting your machine\u2026 the first reset of a step takes longer while its "
                    "starting state is prepared."),
    "skipping": N_("Applying the reference solutions\u2026 installing packages can take a while."),
    "disconnected": N_("\u26a0 This panel is not connected to your lab any more (the kernel restarted, or the "
                       "notebook was reopened): run the lab's first cell, then this cell again."),
    "problem": N_("Problem:"),
    "saw": N_("The grader saw:"),
    "hint": N_("Hint:"),
    "details": N_("What the grader saw, check by check"),
    "not_checked": N_("Not checked yet: press {check} when you have done this step."),
    "stopped": N_("Your lab machine is not running (it was stopped outside this notebook, for example by "
                  "`maillab down`). Run the lab's first cell to start it again: your files are kept."),
}


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


# ipywidgets marks every view whose kernel side is gone with `jupyter-widgets-disconnected` (after
# a kernel restart, or in a reopened notebook): the panel then says so in words, in the page itself.
def disconnected_style() -> str:
    """The style that shows TEXT["disconnected"] (in the notebook's language) on a disconnected panel.
    Scoped by language: a page with an English and a Chinese notebook open keeps each panel's own."""
    lang = language()
    return (
        "<style>"
        f".maillab-check-panel.maillab-lang-{lang}.jupyter-widgets-disconnected::before {{"
        f" content: {_css_string(tr(TEXT['disconnected']))}; font-family: inherit;"
        " font-size: var(--jp-content-font-size1, 14px);"
        " order: -1; display: block; margin: 0 0 .4em 0; padding: .3em .5em; color: inherit;"
        " border-left: 4px solid #9a6700; background: rgba(154, 103, 0, .08); }"
        ".maillab-check-panel.jupyter-widgets-disconnected button { opacity: .5; }"
        "</style>")


def machine_stopped(session: Any) -> bool:
    """True when the session's machines are known not to be running."""
    try:
        return not session.started()
    except Exception:
        return False


class CheckPanel(widgets.VBox):
    """A Check button for one step of a lab session, and the step's latest result.

    With `on_reset` and `on_skip` (callables taking the step id and returning an HTML note, run on
    the session thread) the panel also offers "Reset this step" and "Skip to here", each asking
    for a confirmation first.

    Every action runs on the session thread, so the notebook stays usable meanwhile; a click while
    an action is running is ignored (the buttons are disabled too).
    """

    def __init__(self, session: Any, step_id: str, *, on_reset: Callable[[str], str] | None = None,
                 on_skip: Callable[[str], str] | None = None):
        self.session = session
        self.step_id = step_id
        self.button = widgets.Button(description=tr(TEXT["check"]), icon=IDLE_ICON, tooltip=tr(TEXT["check_tip"]))
        self.button.add_class("maillab-check")
        self.reset_button = widgets.Button(description=tr(TEXT["reset"]), icon="undo",
                                           tooltip=tr(TEXT["reset_tip"]))
        self.reset_button.add_class("maillab-reset-step")
        self.skip_button = widgets.Button(description=tr(TEXT["skip"]), icon="forward",
                                          tooltip=tr(TEXT["skip_tip"]))
        self.skip_button.add_class("maillab-skip")
        self.confirm_text = widgets.HTML("")
        self.confirm_yes = widgets.Button(description="", button_style="warning", icon="check")
        self.confirm_yes.add_class("maillab-confirm")
        self.confirm_no = widgets.Button(description=tr(TEXT["cancel"]), icon="times")
        self.confirm_no.add_class("maillab-cancel")
        self.confirm_row = widgets.HBox([self.confirm_text, self.confirm_yes, self.confirm_no],
                                        layout=widgets.Layout(display="none"))
        self.confirm_row.add_class("maillab-confirm-row")
        self.activity = widgets.HTML("")
        self.state_line = widgets.HTML("")
        self.state_line.add_class("maillab-state-line")
        self.result_area = widgets.HTML("")
        self.result_area.add_class("maillab-result")
        self._drawn: tuple[str, str] | None = None  # the step's (at, checked_at) the result area shows
        self._asked_by: widgets.Button | None = None
        self.pending: Future | None = None
        self._on_reset = on_reset
        self._on_skip = on_skip
        self._confirming: str | None = None
        self._listeners: list[Callable[[StepResult | None], None]] = []
        self._lock = threading.Lock()
        self._running = False
        buttons = [self.button]
        if on_reset is not None:
            buttons.append(self.reset_button)
        if on_skip is not None and not self._is_first_step():
            buttons.append(self.skip_button)
        title = self._step_title()
        self.aria = widgets.HTML(aria_html(
            group=tr(TEXT["panel_named"], title=title),
            labels={"maillab-check": tr(TEXT["check_named"], title=title),
                    "maillab-reset-step": tr(TEXT["reset_named"], title=title),
                    "maillab-skip": tr(TEXT["skip_named"], title=title)}),
            layout=widgets.Layout(display="none"))
        super().__init__([widgets.HBox(buttons + [self.activity]), self.confirm_row, self.state_line,
                          self.result_area, widgets.HTML(disconnected_style()), self.aria])
        self.add_class("maillab-check-panel")
        self.add_class(f"maillab-lang-{language()}")  # its disconnected banner speaks its notebook's language
        self.button.on_click(lambda _button: self.check())
        self.reset_button.on_click(lambda _button: self.ask("reset"))
        self.skip_button.on_click(lambda _button: self.ask("skip"))
        self.confirm_yes.on_click(lambda _button: self.confirm())
        self.confirm_no.on_click(lambda _button: self.cancel())
        self._show_last_result()

    def on_result(self, listener: Callable[[StepResult | None], None]) -> None:
        """Call listener(result) after each check (None when the check could not run)."""
        self._listeners.append(listener)

    @property
    def running(self) -> bool:
        return self._running

    # -- actions ----------------------------------------------------------------------------
    def check(self) -> Future | None:
        """Start a check; returns its Future, or None if an action is already running."""
        return self._start(self._run_check, tr(TEXT["checking"]))

    def ask(self, action: str) -> None:
        """Show the confirmation for "reset" or "skip"; nothing changes until it is confirmed."""
        if self._running:
            return
        self._confirming = action
        self._asked_by = self.reset_button if action == "reset" else self.skip_button
        self.confirm_text.value = f'<span role="alert">{prose(tr(TEXT[action + "_ask"]))}</span>'
        self.confirm_yes.description = tr(TEXT[action + "_yes"])
        self.confirm_row.layout.display = "flex"

    def cancel(self) -> None:
        self._confirming = None
        self.confirm_row.layout.display = "none"
        self.confirm_text.value = ""
        self._keep_focus()

    def _keep_focus(self) -> None:
        """The confirmation row goes away: focus goes back to the button that asked, not to the page."""
        asked, self._asked_by = self._asked_by, None
        if asked is not None:
            try:
                asked.focus()
            except Exception:
                pass

    def confirm(self) -> Future | None:
        """Run the action being confirmed; returns its Future (None if there was nothing to confirm)."""
        action, callback = self._confirming, None
        if action == "reset":
            callback = self._on_reset
        elif action == "skip":
            callback = self._on_skip
        asked = self._asked_by
        self.cancel()
        self._asked_by = asked  # focus goes back to it once the action is done
        if callback is None:
            return None
        busy = tr(TEXT["resetting"]) if action == "reset" else tr(TEXT["skipping"])
        return self._start(lambda: self._run_change(callback, action), busy)

    def _start(self, work: Callable[[], Any], busy: str) -> Future | None:
        with self._lock:
            if self._running:
                return None
            self._running = True
        # The buttons stay enabled, so a keyboard user's focus stays on them (a disabled button drops
        # it to the page); a click meanwhile is ignored, and the activity line says why.
        self.button.icon = BUSY_ICON
        self.activity.value = f'<span role="status" aria-live="polite">{prose(busy)}</span>'
        self.pending = session_thread.submit(self._finishing, work)
        return self.pending

    def _finishing(self, work: Callable[[], Any]) -> Any:
        try:
            return work()
        finally:
            self.activity.value = ""
            self.button.icon = IDLE_ICON
            with self._lock:
                self._running = False

    def show_state(self, progress: dict | None) -> None:
        """Show the step's state from the gradebook (session.progress()[step]). When the step
        changed elsewhere (a check, skip or reset from another cell), its latest result is drawn again."""
        progress = progress or {}
        self.state_line.value = state_html(progress)
        key = (progress.get("at", ""), progress.get("checked_at", ""))
        drawn, self._drawn = self._drawn, key
        if drawn is not None and drawn != key and not self._running:
            self._show_last_result()

    def _step_title(self) -> str:
        for step in getattr(self.session.lab, "steps", ()):
            if step.id == self.step_id:
                return shown(step.title)
        return self.step_id

    def show_result(self, result: StepResult | None, *, remembered: bool = False) -> None:
        try:
            self.result_area.value = not_checked_html() if result is None else result_html(result, remembered=remembered)
        except Exception as exc:  # a result we cannot draw must not leave a traceback in a log
            self.result_area.value = problem_html(exc, _("show the result"))

    def _problem(self, exc: BaseException, doing: str | None = None) -> str:
        if machine_stopped(self.session):
            return _problem_paragraph(tr(TEXT["stopped"]))
        return problem_html(exc, doing)

    def _run_check(self) -> StepResult | None:
        result = None
        try:
            result = self.session.check(self.step_id)
            self.show_result(result)
        except Exception as exc:
            self.result_area.value = self._problem(exc)
        self._tell_listeners(result)
        return result

    def _run_change(self, callback: Callable[[str], str], action: str) -> bool:
        doing = _("reset this step") if action == "reset" else _("apply the reference solutions")
        try:
            note = callback(self.step_id)
        except Exception as exc:
            self.result_area.value = self._problem(exc, doing)
            return False
        self.result_area.value = note + not_checked_html()
        self._tell_listeners(None)
        self._keep_focus()
        return True

    def _tell_listeners(self, result: StepResult | None) -> None:
        self._drawn = None  # this panel drew the news itself: the next state is taken as shown
        for listener in self._listeners:
            try:
                listener(result)
            except Exception:
                pass  # the result is shown; a progress bar that failed to update is not worth more

    def _is_first_step(self) -> bool:
        steps = list(getattr(self.session.lab, "steps", ()))
        return bool(steps) and steps[0].id == self.step_id

    def _show_last_result(self) -> None:
        try:
            last = session_thread.call(self.session.last_result, self.step_id)
        except Exception as exc:
            self.result_area.value = problem_html(exc, _("read your last result"))
            return
        self.show_result(last, remembered=True)


_CODE = re.compile(r"`([^`]+)`")


def prose(text: str) -> str:
    # Escape first: details quote what the learner's machine said, which must never become markup.
    return _CODE.sub(r"<code>\1</code>", html.escape(text, quote=True))


def _local(started_at: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(started_at)
    except (TypeError, ValueError):
        return None
    return moment.astimezone() if moment.tzinfo is not None else moment  # the learner's local time


def _last_check(started_at: str) -> str:
    """"Your last check, 2025-01-02 at 10:00:05:" (the learner's local time), in the learner's language."""
    moment = _local(started_at)
    if moment is None:
        return tr("Your last check:")
    return tr("Your last check, {date} at {time}:", date=moment.strftime("%Y-%m-%d"),
              time=moment.strftime("%H:%M:%S"))


def _checked_at(result: StepResult, remembered: bool) -> str:
    """When the check ran, to the second, and how long it took: a re-check with the same result
    still shows that it ran."""
    if remembered:
        return _last_check(result.started_at)
    moment = _local(result.started_at)
    if moment is None:
        return tr("Checked just now:")
    return tr("Checked at {time} ({seconds} s):", time=moment.strftime("%H:%M:%S"),
              seconds=f"{result.duration:.1f}")


def when_text(started_at: str) -> str:
    """A moment as the learner reads it: "10:02:05" today, "2025-01-02 10:02" before."""
    moment = _local(started_at)
    if moment is None:
        return ""
    if moment.date() == datetime.now(moment.tzinfo).date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")


# A step's state as the gradebook has it (Gradebook.step_states): icon and sentence.
STEP_STATE = {
    "passed": ("\u2714", N_("Passed on your own, {when}.")),
    "helped": ("\u2714", N_("Passed with help (you opened the how-to), {when}.")),
    "skipped": ("\u23ed", N_("Skipped: the reference solution was applied, {when}.")),
    "solved": ("\u25d0", N_("Solution used: the reference solution was applied, {when}.")),
    "failed": ("\u2718", N_("Not passed yet (last check {when}).")),
    "reset": ("\u21ba", N_("Reset to its start, {when}.")),
    "todo": ("\u25cb", N_("To do.")),
}


# The same without a time (an older grader service says only passed or not).
STEP_STATE_UNTIMED = {"passed": N_("Passed on your own."), "helped": N_("Passed with help (you opened the how-to)."),
                      "skipped": N_("Skipped: the reference solution was applied."),
                      "solved": N_("Solution used: the reference solution was applied."),
                      "failed": N_("Not passed yet."), "reset": N_("Reset to its start."), "todo": N_("To do.")}


def state_of(progress: dict | None) -> tuple[str, str]:
    """(state, since when) of one step from session.progress(): the gradebook's word, or what
    passed_now alone says (an older grader service)."""
    progress = progress or {}
    state = progress.get("state")
    if state not in STEP_STATE:
        state = "passed" if progress.get("passed_now") else "todo"
    return state, progress.get("at", "")


def state_html(progress: dict | None) -> str:
    state, at = state_of(progress)
    icon, sentence = STEP_STATE[state]
    when = when_text(at)
    sentence = sentence if when else STEP_STATE_UNTIMED[state]
    return (f'<p class="maillab-step-state maillab-state-{state}"><span aria-hidden="true">{icon}</span> '
            f"{html.escape(tr(sentence, when=when))}</p>")


def aria_html(*, group: str, labels: dict[str, str]) -> str:
    """What ipywidgets cannot say by itself, given to the page once the panel is drawn: the panel is
    a group named after its step, each button (found by its class) is named after the step, and the
    result area is a polite live region, so a new result is read out. A one-off image error runs the
    few lines (an HTML widget's content is set with innerHTML: a script element would not run)."""
    import json

    code = (
        "(function(img){var n=0;(function f(){var p=img.closest('.maillab-check-panel'),"
        "r=p&&p.querySelector('.maillab-result .widget-html-content');"
        "if(!r){if(n++<100)setTimeout(f,100);return;}"
        f"p.setAttribute('role','group');p.setAttribute('aria-label',{json.dumps(group, ensure_ascii=False)});"
        f"var l={json.dumps(labels, ensure_ascii=False)};for(var c in l){{var b=p.querySelector('button.'+c);"
        "if(b)b.setAttribute('aria-label',l[c]);}"
        "r.setAttribute('role','status');r.setAttribute('aria-live','polite');"
        "img.remove();})();})(this)")
    return f'<img alt="" hidden src="data:," onerror="{html.escape(code, quote=True)}">'
