"""A step's reference how-to in its notebook: `lab.how("install")`.

The how-to is text to read and type, never commands run for the learner. It lives beside the lab,
`howto/STEP.md` (and `howto/STEP.zh.md` for the Chinese edition). In guided mode it shows at once;
in challenge mode it stays behind a "Show me how" button. Either way the gradebook records that
the step's how-to was seen (kind "guidance", with the mode), before the text is shown: if that
cannot be recorded, the text is not shown.
"""
from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from IPython.display import Markdown, display

from grader.i18n import N_, language, tr
from grader.state import mode as chosen_mode

from .panel import problem_html, prose

TEXT = {
    "button": N_("Show me how"),
    "heading": N_("How to do it"),
    "guided": N_("Guided mode: read the steps, then type them yourself in the Terminal or the cell above. "
                 "The gradebook notes that you used the how-to."),
    "challenge": N_("Try it on your own first. The how-to is here if you need it; the gradebook notes that you "
                    "opened it."),
    "none": N_("This step has no how-to."),
    "record": N_("show the how-to"),
    "skip": N_("Skip to here"),
    "skip_tip": N_("Apply the reference solutions of the earlier steps, so you can start this step now"),
    "skip_ask": N_("Apply the reference solutions of the earlier steps to your machine? "
                   "The gradebook notes that you skipped them."),
    "skip_yes": N_("Yes, skip"),
    "cancel": N_("Cancel"),
    "skipping": N_("Applying the reference solutions\u2026 installing packages can take a while."),
    "doing_skip": N_("apply the reference solutions"),
}


def howto_path(lab_dir: Path, step_id: str, lang: str) -> Path | None:
    """The step's how-to in `lang`, else in English; None when the step has none."""
    folder = lab_dir / "howto"
    for name in (f"{step_id}.{lang}.md", f"{step_id}.md"):
        if (folder / name).is_file():
            return folder / name
    return None


class HowTo:
    """The widget of one step's how-to."""

    def __init__(self, session: Any, step_id: str, *, mode: str | None = None,
                 on_skip: Callable[[str], str] | None = None) -> None:
        session.lab.step(step_id)  # an unknown step is one sentence
        self.session, self.step_id = session, step_id
        self.mode = mode or chosen_mode()
        path = howto_path(session.lab.dir, step_id, language())
        self.text = path.read_text(encoding="utf-8") if path else None
        self.shown = False  # the text was shown (and its guidance recorded)
        self.out = widgets.Output()
        self.note = widgets.HTML("")
        self.button = widgets.Button(description=tr(TEXT["button"]), icon="lightbulb-o",
                                     tooltip=tr(TEXT["button"]))
        self.button.on_click(lambda _button: self.reveal())
        parts = [self.note, self.out] if self.mode == "guided" else [self.note, self.button, self.out]
        # Skip to here, at the step's start: no check is needed (nor recorded) to reach it.
        self._on_skip = on_skip
        self.skip_area = widgets.VBox([])
        if on_skip is not None and [s.id for s in session.lab.steps].index(step_id) > 0:
            self.skip_button = widgets.Button(description=tr(TEXT["skip"]), icon="forward", tooltip=tr(TEXT["skip_tip"]))
            self.skip_button.add_class("maillab-skip")
            self.skip_yes = widgets.Button(description=tr(TEXT["skip_yes"]), button_style="warning", icon="check")
            self.skip_yes.add_class("maillab-confirm")
            self.skip_no = widgets.Button(description=tr(TEXT["cancel"]), icon="times")
            self.skip_no.add_class("maillab-cancel")
            self.skip_text = widgets.HTML("")
            self.skip_confirm = widgets.HBox([self.skip_text, self.skip_yes, self.skip_no],
                                             layout=widgets.Layout(display="none"))
            self.skip_result = widgets.HTML("")
            self.skip_button.on_click(lambda _b: self.ask_skip())
            self.skip_no.on_click(lambda _b: self.cancel_skip())
            self.skip_yes.on_click(lambda _b: self.skip())
            self.skip_area.children = [self.skip_button, self.skip_confirm, self.skip_result]
            parts.append(self.skip_area)
        self.widget = widgets.VBox(parts)
        self.widget.add_class("maillab-howto")

    def show(self) -> None:
        display(self.widget)
        if self.text is None:
            self.note.value = html.escape(tr(TEXT["none"]))
            self.button.layout.display = "none"
        elif self.mode == "guided":
            self.note.value = f"<em>{html.escape(tr(TEXT['guided']))}</em>"
            self.reveal()
        else:
            self.note.value = f"<em>{html.escape(tr(TEXT['challenge']))}</em>"

    def reveal(self) -> bool:
        """Record the guidance, then show the text. False (with a sentence) when it cannot be recorded."""
        if self.text is None:
            return False
        try:
            self.session.record_guidance(self.step_id, self.mode)
        except Exception as exc:  # noqa: BLE001 - the learner gets a sentence, the text stays closed
            self.note.value = problem_html(exc, TEXT["record"])
            return False
        self.shown = True
        self.button.layout.display = "none"
        with self.out:
            self.out.clear_output()
            display(Markdown(f"#### {tr(TEXT['heading'])}\n\n{self.text}"))
        return True

    # -- Skip to here ---------------------------------------------------------------------------
    def ask_skip(self) -> None:
        self.skip_text.value = f'<span role="alert">{prose(tr(TEXT["skip_ask"]))}</span>'
        self.skip_confirm.layout.display = "flex"

    def cancel_skip(self) -> None:
        self.skip_confirm.layout.display = "none"
        self.skip_text.value = ""
        self._focus(self.skip_button)

    def skip(self) -> Any:
        """Apply the reference solutions of the earlier steps (on the session thread); returns the
        Future. The gradebook notes a skip for each of them, and no check."""
        from . import session_thread

        self.skip_confirm.layout.display = "none"
        self._focus(self.skip_button)
        self.skip_result.value = f'<span role="status">{prose(tr(TEXT["skipping"]))}</span>'

        def work() -> None:
            try:
                note = self._on_skip(self.step_id)
            except Exception as exc:  # noqa: BLE001 - a sentence, never a traceback
                self.skip_result.value = problem_html(exc, TEXT["doing_skip"])
                return
            self.skip_result.value = f'<div role="status">{note}</div>'

        return session_thread.submit(work)

    @staticmethod
    def _focus(button: Any) -> None:
        try:
            button.focus()
        except Exception:
            pass
