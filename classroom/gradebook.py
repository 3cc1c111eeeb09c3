"""The gradebook: every attempt at every step, kept in SQLite.

Kinds of attempt: "check" (the learner's own work), "solve" and "skip" (the reference solution
was applied: never a pass), "reset" (the step was put back to its start), "guidance" (the step's
how-to was shown to the learner: asked for in challenge mode, at once in guided mode; its `mode`
says which). A pass after guidance counts, but not towards the score of the learner's own work.

A check that passes after a solve or skip of the same step, with no reset in between, is kept
but does not count as a pass either: the machine passes, the learner did not do the work.
"""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from grader.i18n import _
from grader.runner import ladder_key
from grader.result import ItemResult, Status, StepResult

SCHEMA_VERSION = 3
KINDS = ("check", "solve", "skip", "reset", "guidance")
MODES = ("guided", "challenge")
BUSY_TIMEOUT = 30.0
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    learner     TEXT NOT NULL,
    lab         TEXT NOT NULL,
    step        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('check', 'solve', 'skip', 'reset', 'guidance')),
    status      TEXT NOT NULL,
    counts      INTEGER NOT NULL,   -- 1 when this attempt is a pass that counts for the learner
    started_at  TEXT NOT NULL,
    duration    REAL NOT NULL,
    recorded_at TEXT NOT NULL,
    mode        TEXT NOT NULL DEFAULT ''  -- guided or challenge, for guidance
);
CREATE INDEX attempts_by_step ON attempts (learner, lab, step, id);
CREATE TABLE items (
    attempt_id INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    name       TEXT NOT NULL,
    title      TEXT NOT NULL,
    status     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    hint       TEXT,
    duration   REAL NOT NULL,
    hint_level INTEGER NOT NULL DEFAULT 0,  -- the rung of the check's hint ladder shown
    about      TEXT NOT NULL DEFAULT '',  -- a FAIL with a ladder of its own: what it was about
    PRIMARY KEY (attempt_id, position)
);
"""


# From each older schema version to the next, in one transaction (the data is kept). SQLite cannot
# change a CHECK constraint in place: the table is made anew and its rows copied.
_MIGRATIONS = {
    1: """
CREATE TABLE attempts_new (
    id          INTEGER PRIMARY KEY,
    learner     TEXT NOT NULL,
    lab         TEXT NOT NULL,
    step        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('check', 'solve', 'skip', 'reset', 'guidance')),
    status      TEXT NOT NULL,
    counts      INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    duration    REAL NOT NULL,
    recorded_at TEXT NOT NULL,
    mode        TEXT NOT NULL DEFAULT ''
);
INSERT INTO attempts_new (id, learner, lab, step, kind, status, counts, started_at, duration, recorded_at)
    SELECT id, learner, lab, step, kind, status, counts, started_at, duration, recorded_at FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_new RENAME TO attempts;
CREATE INDEX attempts_by_step ON attempts (learner, lab, step, id);
ALTER TABLE items ADD COLUMN hint_level INTEGER NOT NULL DEFAULT 0;
UPDATE schema_version SET version = 2
""",
    2: """
ALTER TABLE items ADD COLUMN about TEXT NOT NULL DEFAULT '';
UPDATE schema_version SET version = 3
""",
}


def is_database_url(location: str | Path) -> bool:
    # A URL that went through Path() has lost one slash ("postgresql:/user@host/db").
    return str(location).startswith(("postgresql:/", "postgres:/"))


class GradebookError(Exception):
    """The gradebook file cannot be used. The message says what to do."""


@dataclass(frozen=True)
class StepRecord:
    """One learner's story on one step, as an instructor reads it.

    `attempts` counts the learner's own checks; solves and skips are counted apart and never make
    the step passed. `passed_now` is the current state (a later failed check, reset or solve ends
    it); `ever_passed` stays once the learner's own work passed."""
    learner: str
    lab: str
    step: str
    attempts: int = 0
    first_status: str = ""      # of the learner's first check ("" before any)
    last_status: str = ""       # of the learner's latest check
    first_attempt_at: str = ""
    last_attempt_at: str = ""   # latest activity of any kind (check, solve, skip, reset)
    last_kind: str = ""         # and its kind
    first_pass_at: str = ""
    passed_now: bool = False
    ever_passed: bool = False
    hints_shown: int = 0        # checks that showed the learner a hint
    last_hint: str = ""
    solved: int = 0             # reference solution applied
    skipped: int = 0
    resets: int = 0
    guided: int = 0             # times the step's how-to was shown
    hint_level: int = 0         # the highest rung of a hint ladder the learner reached
    own_passed: bool = False    # passed by the learner's own work before any how-to was shown


class Gradebook:
    """The grades in SQLite. `open_gradebook` (classroom/gradebooks.py) gives a PostgresGradebook
    (classroom/gradebook_pg.py) for a `postgresql://` URL instead, for a room spread over several servers."""

    _errors: tuple[type[BaseException], ...] = (sqlite3.DatabaseError,)
    SCHEMA = _SCHEMA
    MIGRATIONS = _MIGRATIONS

    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._refuse_foreign_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # Grades are private: readable by their owner (root in a workshop) alone.
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass  # another grader created it a moment ago
        db = self._connect()
        try:
            if not self._up_to_date(db):
                self._initialise(db)
        finally:
            db.close()

    def _up_to_date(self, db: sqlite3.Connection) -> bool:
        """Does the file hold this version's schema already? A read, which takes no lock: a room's
        sessions opening the gradebook at once do not queue for its write lock just to learn it."""
        try:
            return db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        except sqlite3.DatabaseError:
            return False  # no schema yet, another, or a damaged file: _initialise makes it or says why

    # -- opening ------------------------------------------------------------------------------

    def _unreadable(self, why: str) -> GradebookError:
        return GradebookError(_(
            "The gradebook at {path} is not a readable SQLite database: {why}. "
            "Move it aside (for example to {name}.broken) and start again; "
            "a new, empty gradebook will be created in its place.", path=str(self.path), why=why, name=self.path.name))

    def _refuse_foreign_file(self) -> None:
        # SQLite would happily open some foreign files and write to them; look before touching.
        try:
            with open(self.path, "rb") as handle:
                head = handle.read(len(_SQLITE_MAGIC))
        except FileNotFoundError:
            return
        except IsADirectoryError:
            raise self._unreadable(_("it is a directory")) from None
        except PermissionError:
            raise GradebookError(_(
                "You may not open the gradebook at {path}: grades are kept private to its "
                "owner. Run this as root (in a workshop, learners reach it through the grader).",
                path=str(self.path))) from None
        except OSError as exc:
            raise self._unreadable(exc.strerror or str(exc)) from None
        if head and head != _SQLITE_MAGIC:
            raise self._unreadable(_("the file does not start with the SQLite header"))

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(str(exc)) from None
        return db

    # What differs between SQLite and PostgreSQL when the schema is made (PostgresGradebook overrides).
    def _begin(self, db: Any) -> None:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("BEGIN IMMEDIATE")

    def _table_names(self, db: Any) -> set[str]:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _foreign(self, tables: set[str]) -> str | None:
        """Why a store holding `tables` but no schema_version is not ours to write (None: it is)."""
        if tables:
            return _("The file {path} is an SQLite database but not a MailLab gradebook (it has other "
                     "tables). Give the gradebook another path.", path=str(self.path))
        return None

    def _keys(self, db: Any, on: bool) -> None:
        """Foreign keys off while a table is made anew (a DROP would cascade to the items)."""
        db.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")

    def _initialise(self, db: Any) -> None:
        try:
            self._keys(db, False)
            self._begin(db)
            try:
                tables = self._table_names(db)
                if "schema_version" not in tables:
                    refusal = self._foreign(tables)
                    if refusal:
                        raise GradebookError(refusal)
                    # executescript() would commit the open transaction first.
                    for statement in self.SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                found = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
                while found in self.MIGRATIONS:  # an older gradebook: brought up to date, nothing lost
                    for statement in self.MIGRATIONS[found].split(";"):
                        if statement.strip():
                            db.execute(statement)
                    found = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            version = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
            self._keys(db, True)
        except self._errors as exc:
            raise self._unreadable(str(exc)) from None
        if version != SCHEMA_VERSION:
            raise GradebookError(_(
                "The gradebook at {path} has schema version {version}; this "
                "MailLab reads version {wanted}. Use the MailLab version that wrote it.",
                path=str(getattr(self, "where", self.path)), version=version, wanted=SCHEMA_VERSION))

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        db = self._connect()
        try:
            db.row_factory = sqlite3.Row
            return db.execute(sql, params).fetchall()
        except self._errors as exc:
            raise self._unreadable(str(exc)) from None
        finally:
            db.close()

    # -- writing ------------------------------------------------------------------------------

    def record(self, learner: str, result: StepResult, kind: str = "check", *, mode: str = "") -> int:
        """Store one attempt and its items in one transaction. Returns the attempt's id. `mode`
        (guided or challenge) says how a guidance attempt came about."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if mode and mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        recorded_at = datetime.now(timezone.utc).isoformat()
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                counts = kind == "check" and result.passed and not self._assisted(
                    db, learner, result.lab, result.step)
                cursor = db.execute(
                    "INSERT INTO attempts (learner, lab, step, kind, status, counts, started_at,"
                    " duration, recorded_at, mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (learner, result.lab, result.step, kind, result.status.value, int(counts),
                     result.started_at or recorded_at, result.duration, recorded_at, mode))
                attempt_id = int(cursor.fetchone()[0])
                db.executemany(
                    "INSERT INTO items (attempt_id, position, name, title, status, detail, hint,"
                    " duration, hint_level, about) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(attempt_id, n, i.name, i.title, i.status.value, i.detail, i.hint, i.duration, i.hint_level,
                      i.about) for n, i in enumerate(result.items)])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except self._errors as exc:
            raise self._unreadable(str(exc)) from None
        finally:
            db.close()
        return attempt_id

    @staticmethod
    def _assisted(db: sqlite3.Connection, learner: str, lab: str, step: str) -> bool:
        row = db.execute(
            "SELECT kind FROM attempts WHERE learner = ? AND lab = ? AND step = ?"
            " AND kind IN ('solve', 'skip', 'reset') ORDER BY id DESC LIMIT 1",
            (learner, lab, step)).fetchone()
        return row is not None and row[0] != "reset"

    # -- reading ------------------------------------------------------------------------------

    def last_result(self, learner: str, lab: str, step: str, *,
                    checks_only: bool = False) -> StepResult | None:
        """The most recent attempt of any kind (a reset or solve changes the current state), or
        with `checks_only` the most recent check."""
        only = " AND kind = 'check'" if checks_only else " AND kind != 'guidance'"
        rows = self._query(
            "SELECT id, started_at, duration FROM attempts WHERE learner = ? AND lab = ?"
            f" AND step = ?{only} ORDER BY id DESC LIMIT 1", (learner, lab, step))
        if not rows:
            return None
        items = self._query(
            "SELECT name, title, status, detail, hint, duration, hint_level, about FROM items WHERE attempt_id = ?"
            " ORDER BY position", (rows[0]["id"],))
        return StepResult(lab, step, tuple(
            ItemResult(r["name"], r["title"], Status(r["status"]), r["detail"], r["hint"],
                       r["duration"], r["hint_level"], r["about"]) for r in items),
            rows[0]["started_at"], rows[0]["duration"])

    def fails_before(self, learner: str, lab: str, step: str) -> dict[str, int]:
        """How often each check of the step FAILED this learner's own checks: the rung of its
        hint ladder the next FAIL shows (by runner.ladder_key: a FAIL with a ladder of its own is
        counted by what it was about)."""
        rows = self._query(
            "SELECT i.name, i.about, COUNT(*) AS fails FROM attempts a JOIN items i ON i.attempt_id = a.id"
            " WHERE a.learner = ? AND a.lab = ? AND a.step = ? AND a.kind = 'check' AND i.status = 'FAIL'"
            " GROUP BY i.name, i.about", (learner, lab, step))
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["name"]] = counts.get(row["name"], 0) + int(row["fails"])
            if row["about"]:
                counts[ladder_key(row["name"], row["about"])] = int(row["fails"])
        return counts

    def first_pass(self, learner: str, lab: str, step: str) -> str | None:
        """When the learner's own check first passed (UTC ISO time), or None."""
        rows = self._query(
            "SELECT started_at FROM attempts WHERE learner = ? AND lab = ? AND step = ?"
            " AND counts = 1 ORDER BY id LIMIT 1", (learner, lab, step))
        return rows[0]["started_at"] if rows else None

    def progress(self, learner: str, lab: str) -> dict[str, dict[str, Any]]:
        """Per step: passed_now (latest attempt is a counting pass), ever_passed, attempts."""
        rows = self._query(
            "SELECT step, kind, counts FROM attempts WHERE learner = ? AND lab = ? ORDER BY id",
            (learner, lab))
        steps: dict[str, dict[str, Any]] = {}
        for row in rows:
            entry = steps.setdefault(row["step"], {"passed_now": False, "ever_passed": False,
                                                   "attempts": 0})
            if row["kind"] != "guidance":
                entry["passed_now"] = bool(row["counts"])
            entry["ever_passed"] = entry["ever_passed"] or bool(row["counts"])
            if row["kind"] == "check":
                entry["attempts"] += 1
        return steps

    def learners(self) -> list[str]:
        return [r["learner"] for r in self._query(
            "SELECT DISTINCT learner FROM attempts ORDER BY learner")]

    def attempts(self, learner: str, lab: str) -> Iterator[dict[str, Any]]:
        for row in self._query(
                "SELECT id, step, kind, status, counts, started_at, duration FROM attempts"
                " WHERE learner = ? AND lab = ? ORDER BY id", (learner, lab)):
            yield dict(row)

    def has_learner(self, learner: str) -> bool:
        return bool(self._query("SELECT 1 FROM attempts WHERE learner = ? LIMIT 1", (learner,)))

    def records(self, lab: str | None = None, learner: str | None = None) -> list[StepRecord]:
        """Per learner, lab and step that has any attempt: the summary an instructor needs."""
        where, params = [], []
        for column, value in (("a.lab", lab), ("a.learner", learner)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        # The hint a check showed: that of its first FAIL or ERROR item (what the panel shows).
        rows = self._query(
            "SELECT a.learner, a.lab, a.step, a.kind, a.status, a.counts, a.started_at, a.recorded_at,"
            " (SELECT i.hint FROM items i WHERE i.attempt_id = a.id AND i.status IN ('FAIL', 'ERROR')"
            "  ORDER BY i.position LIMIT 1) AS hint,"
            " (SELECT MAX(i.hint_level) FROM items i WHERE i.attempt_id = a.id) AS hint_level"
            " FROM attempts a" + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY a.learner, a.lab, a.step, a.id", tuple(params))
        records: dict[tuple[str, str, str], dict[str, Any]] = {}
        for row in rows:
            key = (row["learner"], row["lab"], row["step"])
            rec = records.setdefault(key, dict(zip(("learner", "lab", "step"), key)))
            kind, when = row["kind"], row["started_at"] or row["recorded_at"]
            rec["last_attempt_at"] = when
            rec["last_kind"] = kind
            if kind != "guidance":  # showing a how-to changes nothing on the machine
                rec["passed_now"] = bool(row["counts"])
            if kind == "check":
                rec["attempts"] = rec.get("attempts", 0) + 1
                rec.setdefault("first_status", row["status"])
                rec.setdefault("first_attempt_at", when)
                rec["last_status"] = row["status"]
                if row["hint"]:
                    rec["hints_shown"] = rec.get("hints_shown", 0) + 1
                    rec["last_hint"] = row["hint"]
                rec["hint_level"] = max(rec.get("hint_level", 0), row["hint_level"] or 0)
                if row["counts"]:
                    rec["ever_passed"] = True
                    rec.setdefault("first_pass_at", when)
                    if not rec.get("guided"):
                        rec["own_passed"] = True
            else:
                counter = {"solve": "solved", "skip": "skipped", "reset": "resets", "guidance": "guided"}[kind]
                rec[counter] = rec.get(counter, 0) + 1
        return [StepRecord(**rec) for rec in records.values()]

    def item_rows(self, lab: str | None = None) -> Iterator[dict[str, Any]]:
        """Every check item of every attempt, oldest first (the long export)."""
        where, params = ("WHERE a.lab = ?", (lab,)) if lab is not None else ("", ())
        for row in self._query(
                "SELECT a.learner, a.lab, a.step, a.id AS attempt, a.kind, a.started_at,"
                " a.status AS step_status, a.counts, i.position, i.name AS check_name, i.title,"
                " i.status AS check_status, i.detail, i.hint, i.duration"
                f" FROM attempts a JOIN items i ON i.attempt_id = a.id {where}"
                " ORDER BY a.learner, a.id, i.position", params):
            yield dict(row)

    def attempt_rows(self, lab: str | None = None) -> Iterator[dict[str, Any]]:
        """Every attempt, oldest first: one row per check item, and one row (with no check) for an
        attempt that has none: a how-to shown (with its mode), a solution used, a skip, a reset."""
        where, params = ("WHERE a.lab = ?", (lab,)) if lab is not None else ("", ())
        for row in self._query(
                "SELECT a.learner, a.lab, a.step, a.id AS attempt, a.kind, a.mode, a.started_at,"
                " a.status AS step_status, a.counts, i.position, i.name AS check_name, i.title,"
                " i.status AS check_status, i.detail, i.hint, i.duration"
                f" FROM attempts a LEFT JOIN items i ON i.attempt_id = a.id {where}"
                " ORDER BY a.learner, a.id, i.position", params):
            yield dict(row)

    def step_states(self, learner: str, lab: str) -> dict[str, dict[str, Any]]:
        """Per step the learner touched, its state now as the notebook shows it, and since when:
        {"state": passed | helped | skipped | solved | failed | reset | todo, "at": ISO time,
        "checked_at": time of the latest check, "status": its status}. `helped`: passed after the
        step's how-to was shown; `skipped`/`solved`: a reference solution stands (Skip to here, or
        the step's solution), even if a check passes on it since."""
        rows = self._query(
            "SELECT step, kind, status, counts, started_at, recorded_at FROM attempts"
            " WHERE learner = ? AND lab = ? ORDER BY id", (learner, lab))
        steps: dict[str, dict[str, Any]] = {}
        for row in rows:
            entry = steps.setdefault(row["step"], {"state": "todo", "at": "", "checked_at": "", "status": "",
                                                   "guided": False})
            kind, when = row["kind"], row["started_at"] or row["recorded_at"]
            if kind == "guidance":
                entry["guided"] = True
                continue
            if kind == "check":
                entry["checked_at"], entry["status"] = when, row["status"]
                if row["counts"]:
                    entry["state"] = "helped" if entry["guided"] else "passed"
                elif entry["state"] in ("skipped", "solved") and row["status"] == "PASS":
                    continue  # the machine passes on the reference solution: still the solution's
                else:
                    entry["state"] = "failed"
            elif kind in ("solve", "skip"):
                entry["state"] = "skipped" if kind == "skip" else "solved"
            else:  # reset: the step starts again
                entry["state"], entry["status"] = "reset", ""
            entry["at"] = when
        return steps
