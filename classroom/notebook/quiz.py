"""A quiz in a notebook: one set of choices per question and a Submit button that writes the
learner's answers into their lab machine, where the step's check grades them.

    from classroom.notebook.quiz import show_quiz
    quiz = show_quiz(lab, "roles-quiz")        # the lab folder's quiz/roles-quiz.toml
    ...
    lab.check("roles-quiz")

The widget never says which answer is right: the grader does, from the machine, with a hint.
"""
from __future__ import annotations

import html
import json
import posixpath
import subprocess
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from grader import quiz as quizzes
from grader.i18n import N_, _, tr

from . import shell
from .panel import problem_sentence, prose, shown

# What the quiz says, in one place (English; shown in the learner's language with tr).
TEXT = {
    "submit": N_("Submit"),
    "submit_tip": N_("Write your answers into your lab machine, for the grader"),
    "saved": N_("Saved {count} of {total} answers to `{path}` in your machine. Now run the check below."),
    "unanswered": N_("Questions without an answer yet: {numbers}."),
    "kept": N_("You have already submitted answers: they stay as they are. "
               "(To use the model answers, delete `{path}` first.)"),
    "model": N_("The model answers are filled in above and saved. Read each question again with its answer: "
                "do you see why it is right?"),
}


class QuizWidget:
    """The quiz of one step, drawn with ipywidgets, bound to a NotebookLab."""

    def __init__(self, lab: Any, step_id: str, quiz: quizzes.Quiz):
        self.lab = lab
        self.step_id = step_id
        self.quiz = quiz
        self.choices: dict[str, widgets.RadioButtons] = {}
        rows = []
        for number, question in enumerate(quiz.questions, start=1):
            choice = widgets.RadioButtons(options=[(shown(text), key) for key, text in question.options.items()],
                                          value=None, layout=widgets.Layout(width="auto"))
            self.choices[question.id] = choice
            rows.append(widgets.HTML(f"<p><strong>{number}.</strong> {html.escape(shown(question.text))}</p>"))
            rows.append(choice)
        self.button = widgets.Button(description=tr(TEXT["submit"]), tooltip=tr(TEXT["submit_tip"]),
                                     button_style="primary", icon="paper-plane")
        self.button.on_click(lambda _button: self.submit())
        self.status = widgets.HTML("")
        self.box = widgets.VBox([widgets.HTML(f"<h4>{html.escape(shown(quiz.title))}</h4>"), *rows,
                                 widgets.HBox([self.button]), self.status])
        self.box.add_class("maillab-quiz")

    def _ipython_display_(self) -> None:
        display(self.box)

    # -- answers ----------------------------------------------------------------------------
    def answers(self) -> dict[str, str]:
        return {qid: choice.value for qid, choice in self.choices.items() if choice.value}

    def submit(self) -> None:
        """Write the chosen answers into the machine (questions left open are simply missing)."""
        answers = self.answers()
        try:
            self._write(json.dumps(answers, indent=2) + "\n")
        except Exception as exc:
            self._say(html.escape(problem_sentence(exc, _("save your answers in your machine"))), alert=True)
            return
        note = prose(tr(TEXT["saved"], count=len(answers), total=len(self.choices), path=self.quiz.answers_file))
        open_numbers = [str(n) for n, q in enumerate(self.quiz.questions, start=1) if q.id not in answers]
        if open_numbers:
            note += " " + prose(tr(TEXT["unanswered"], numbers=", ".join(open_numbers)))
        self._say(note)

    def answer(self, answers: dict[str, str]) -> None:
        """Choose these answers (question id -> option id) and submit them, as if clicked."""
        for qid, option in answers.items():
            if qid in self.choices:
                self.choices[qid].value = option
        self.submit()

    def use_model_answers(self) -> None:
        """The worked example: choose and submit the model answers, unless the learner has submitted
        answers of their own already (those are never overwritten)."""
        try:
            submitted = self._submitted()
        except Exception as exc:
            self._say(html.escape(problem_sentence(exc, _("read your answers in your machine"))), alert=True)
            return
        if submitted:
            self._say(prose(tr(TEXT["kept"], path=self.quiz.answers_file)))
            return
        self.answer(self.quiz.model_answers())
        if "maillab-quiz-note" in self.status.value and 'role="alert"' not in self.status.value:
            self._say(prose(tr(TEXT["model"])))

    # -- the machine's file -------------------------------------------------------------------
    def _run(self, argv: list[str], data: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(shell.machine_argv(argv), input=data, capture_output=True, text=True, timeout=30)

    def _write(self, text: str) -> None:
        folder = posixpath.dirname(self.quiz.answers_file)
        done = self._run(["/bin/sh", "-c", 'mkdir -p "$1" && cat > "$2"', "sh", folder, self.quiz.answers_file], text)
        if done.returncode != 0:
            raise OSError(done.stderr.strip() or f"exit status {done.returncode}")

    def _submitted(self) -> bool:
        return self._run(["test", "-s", self.quiz.answers_file]).returncode == 0

    def _say(self, text: str, *, alert: bool = False) -> None:
        role = "alert" if alert else "status"
        self.status.value = f'<p class="maillab-quiz-note" role="{role}">{text}</p>'


def show_quiz(lab: Any, step_id: str) -> QuizWidget:
    """Show the quiz of `step_id` (the lab folder's quiz/STEP.toml) and return it."""
    quiz = quizzes.load(lab.session.lab.dir / "quiz" / f"{step_id}.toml")
    widget = QuizWidget(lab, step_id, quiz)
    display(widget)
    return widget
