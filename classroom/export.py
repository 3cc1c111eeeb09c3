"""The gradebook as CSV for a learning platform: one row per learner (wide), or one per check (long).

Wide: identity columns, then one column per step ("LAB: STEP") holding the step's points when it
is passed (`--score ever`: once ever passed; `now`: while it passes now; `own`: passed by the
learner's own work, before any how-to of the step was shown, without solve or skip), 0 otherwise, then one total column per lab ("LAB total"). Which identity columns come
first depends on where the file goes:

- Canvas (Grades > Import) matches each row to a student by `ID`, `SIS User ID` or `SIS Login ID`
  and wants a `Student` column; `Section` may be empty. Every other column becomes an assignment
  (a new one when no assignment has that name). We fill `Student` and `SIS Login ID` with the
  learner's login name, so learners whose Canvas login is the workshop name match.
- Moodle (Grades > Import > CSV file) asks the teacher to map one column to a user field
  ("Map from" `Username` -> "Map to" username) and each other column to a grade item
  (or "new grade item"). Values are plain numbers.
- plain: a `learner` column, for spreadsheets and scripts.

Long: one row per check of every attempt (learner, lab, step, attempt, kind, time, the check and
its status, what the grader saw, the hint shown), and one row for each help the learner used or
reset (kind guidance: a how-to shown, with its `mode`; solve; skip; reset) with the check columns
empty, for looking into how a room worked.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from .gradebook import Gradebook, StepRecord
from grader.course import Lab

IDENTITY_COLUMNS = {
    "plain": ("learner",),
    "canvas": ("Student", "ID", "SIS User ID", "SIS Login ID", "Section"),
    "moodle": ("Username",),
}
SCORES = ("ever", "now", "own")  # once ever passed; only while it passes now; passed before any how-to was shown
LONG_COLUMNS = ("learner", "lab", "step", "attempt", "kind", "started_at", "step_status", "counts",
                "position", "check", "title", "check_status", "detail", "hint", "duration", "mode")


def step_column(lab: Lab, step_id: str) -> str:
    return f"{lab.id}: {step_id}"


def total_column(lab: Lab) -> str:
    return f"{lab.id} total"


def _identity(target: str, learner: str) -> list[str]:
    if target == "canvas":
        return [learner, "", "", learner, ""]
    return [learner]


def wide_rows(book: Gradebook, labs: Iterable[Lab], *, score: str = "ever",
              learners: Iterable[str] | None = None) -> tuple[list[str], list[dict[str, int]], list[str]]:
    """(learners, their scores by column, the score columns in order)."""
    if score not in SCORES:
        raise ValueError(f"score must be one of {', '.join(SCORES)}")
    labs = list(labs)
    columns: list[str] = []
    for lab in labs:
        columns += [step_column(lab, s.id) for s in lab.steps] + [total_column(lab)]
    people = sorted(learners) if learners is not None else book.learners()
    by_key: dict[tuple[str, str, str], StepRecord] = {
        (r.learner, r.lab, r.step): r for r in book.records()}
    table = []
    for learner in people:
        scores: dict[str, int] = {}
        for lab in labs:
            total = 0
            for step in lab.steps:
                record = by_key.get((learner, lab.id, step.id))
                passed = record is not None and {"ever": record.ever_passed, "now": record.passed_now,
                                                 "own": record.own_passed}[score]
                points = step.points if passed else 0
                scores[step_column(lab, step.id)] = points
                total += points
            scores[total_column(lab)] = total
        table.append(scores)
    return people, table, columns


def wide_csv(book: Gradebook, labs: Iterable[Lab], *, target: str = "plain", score: str = "ever",
             learners: Iterable[str] | None = None) -> str:
    if target not in IDENTITY_COLUMNS:
        raise ValueError(f"target must be one of {', '.join(IDENTITY_COLUMNS)}")
    people, table, columns = wide_rows(book, labs, score=score, learners=learners)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*IDENTITY_COLUMNS[target], *columns])
    for learner, scores in zip(people, table):
        writer.writerow([*_identity(target, learner), *(scores[c] for c in columns)])
    return out.getvalue()


def long_csv(book: Gradebook, lab: str | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LONG_COLUMNS)
    for row in book.attempt_rows(lab):
        checked = row["position"] is not None
        writer.writerow([row["learner"], row["lab"], row["step"], row["attempt"], row["kind"],
                         row["started_at"], row["step_status"] if checked else "", row["counts"],
                         row["position"] if checked else "", row["check_name"] or "", row["title"] or "",
                         row["check_status"] or "", row["detail"] or "", row["hint"] or "",
                         f"{row['duration']:.3f}" if checked else "", row["mode"] or ""])
    return out.getvalue()


def read_wide_csv(text: str) -> dict[str, dict[str, int]]:
    """Parse a wide export back: learner -> column -> number (what a platform would read)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    for target, identity in IDENTITY_COLUMNS.items():
        if tuple(header[:len(identity)]) == identity:
            break
    else:
        raise ValueError("not a MailLab gradebook export: unknown first columns")
    key = {"plain": 0, "canvas": 3, "moodle": 0}[target]
    columns = header[len(identity):]
    return {row[key]: {c: int(v) for c, v in zip(columns, row[len(identity):])} for row in reader}
