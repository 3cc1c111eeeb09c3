"""A graded quiz as data: questions, options, the right option and a hint for each wrong one.

A quiz is a TOML file in a lab's folder (see labs/01-how-mail-works/quiz/roles-quiz.toml). The
notebook's widget (classroom.notebook.quiz) writes the learner's choices into the machine as JSON,
{"question id": "option id", ...}; a check grades that file with `grade`. Pure logic, no machine.
"""
from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MailLabError
from .i18n import Msg, _


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    options: dict[str, str]  # option id -> its text, in the order shown
    answer: str
    mixups: dict[str, str] = field(default_factory=dict)  # wrong option id -> what was mixed up


@dataclass(frozen=True)
class Quiz:
    title: str
    answers_file: str  # where, in the machine, the learner's answers are kept
    questions: tuple[Question, ...]

    def number(self, question_id: str) -> int:
        return next(n for n, q in enumerate(self.questions, start=1) if q.id == question_id)

    def model_answers(self) -> dict[str, str]:
        return {q.id: q.answer for q in self.questions}


@dataclass(frozen=True)
class Mistake:
    number: int
    question: Question
    chosen: str

    @property
    def chosen_text(self) -> str:
        """The chosen option's text (in the lab's catalogs, extracted from the quiz file)."""
        text = self.question.options.get(self.chosen)
        return self.chosen if text is None else Msg(text, {})

    @property
    def hint(self) -> str:
        """What the learner mixed up (in the lab's catalogs, extracted from the quiz file)."""
        text = self.question.mixups.get(self.chosen, "")
        return Msg(text, {}) if text else ""


@dataclass(frozen=True)
class Grade:
    right: tuple[Question, ...]
    wrong: tuple[Mistake, ...]
    unanswered: tuple[int, ...]            # question numbers without an answer
    not_an_option: tuple[tuple[int, str], ...]  # (question number, what the file says)

    @property
    def passed(self) -> bool:
        return not (self.wrong or self.unanswered or self.not_an_option)


def load(path: str | Path) -> Quiz:
    """Read a quiz file; an author's mistake in it is reported with the file's name."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        questions = tuple(Question(id=q["id"], text=q["text"], options=dict(q["options"]), answer=q["answer"],
                                   mixups=dict(q.get("mixups", {}))) for q in data["questions"])
        quiz = Quiz(title=data.get("title", path.stem), answers_file=data["answers_file"], questions=questions)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise MailLabError(_("The quiz file {path} cannot be read ({error}).", path=str(path),
                             error=f"{type(exc).__name__}: {exc}")) from None
    for q in questions:
        if q.answer not in q.options or not set(q.mixups) <= set(q.options) - {q.answer}:
            raise MailLabError(_("{path}: question {question} must have its answer among its options, "
                                 "and hints only for wrong options.", path=str(path), question=repr(q.id)))
    if len({q.id for q in questions}) != len(questions):
        raise MailLabError(_("{path}: two questions have the same id.", path=str(path)))
    return quiz


def parse_answers(text: str) -> dict[str, str]:
    """The learner's answers file. Raises ValueError when it is not a JSON object of strings."""
    data = json.loads(text)
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, (str, type(None)))
                                             for k, v in data.items()):
        raise ValueError(_("not a JSON object of question ids and option ids"))
    return {k: v for k, v in data.items() if v}


def grade(quiz: Quiz, answers: dict[str, str]) -> Grade:
    right, wrong, unanswered, not_an_option = [], [], [], []
    for number, question in enumerate(quiz.questions, start=1):
        chosen = answers.get(question.id)
        if not chosen:
            unanswered.append(number)
        elif chosen not in question.options:
            not_an_option.append((number, chosen))
        elif chosen == question.answer:
            right.append(question)
        else:
            wrong.append(Mistake(number, question, chosen))
    return Grade(tuple(right), tuple(wrong), tuple(unanswered), tuple(not_an_option))
