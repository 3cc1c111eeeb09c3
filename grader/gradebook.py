"""The gradebook: every attempt at every step, kept in SQLite.

Kinds of attempt: "check" (the learner's own work), "solve" and "skip" (the reference solution
was applied: never a pass), "reset" (the step was put back to its start).

A check that passes after a solve or skip of the same step, with no reset in between, is kept
but does not count as a pass either: the machine passes, the learner did not do the work.
"""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from .result import ItemResult, Status, StepResult

SCHEMA_VERSION = 1
KINDS = ("check", "solve", "skip", "reset")
BUSY_TIMEOUT = 30.0
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    learner     TEXT NOT NULL,
    lab         TEXT NOT NULL,
    step        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('check', 'solve', 'skip', 'reset')),
    status      TEXT NOT NULL,
    counts      INTEGER NOT NULL,   -- 1 when this attempt is a pass that counts for the learner
    started_at  TEXT NOT NULL,
    duration    REAL NOT NULL,
    recorded_at TEXT NOT NULL
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
    PRIMARY KEY (attempt_id, position)
);
"""


class GradebookError(Exception):
    """The gradebook file cannot be used. The message says what to do."""


class Gradebook:
    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._refuse_foreign_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._connect()
        try:
            self._initialise(db)
        finally:
            db.close()

    # -- opening ------------------------------------------------------------------------------

    def _unreadable(self, why: str) -> GradebookError:
        return GradebookError(
            f"The gradebook at {self.path} is not a readable SQLite database: {why}. "
            f"Move it aside (for example to {self.path.name}.broken) and start again; "
            "a new, empty gradebook will be created in its place.")

    def _refuse_foreign_file(self) -> None:
        # SQLite would happily open some foreign files and write to them; look before touching.
        try:
            with open(self.path, "rb") as handle:
                head = handle.read(len(_SQLITE_MAGIC))
        except FileNotFoundError:
            return
        except IsADirectoryError:
            raise self._unreadable("it is a directory") from None
        except OSError as exc:
            raise self._unreadable(exc.strerror or str(exc)) from None
        if head and head != _SQLITE_MAGIC:
            raise self._unreadable("the file does not start with the SQLite header")

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(str(exc)) from None
        return db

    def _initialise(self, db: sqlite3.Connection) -> None:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("BEGIN IMMEDIATE")
            try:
                tables = {row[0] for row in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
                if "schema_version" not in tables:
                    if tables:
                        raise GradebookError(
                            f"The file {self.path} is an SQLite database but not a MailLab "
                            "gradebook (it has other tables). Give the gradebook another path.")
                    # executescript() would commit the open transaction first.
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            version = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(str(exc)) from None
        if version != SCHEMA_VERSION:
            raise GradebookError(
                f"The gradebook at {self.path} has schema version {version}; this MailLab "
                f"reads version {SCHEMA_VERSION}. Use the MailLab version that wrote it.")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        db = self._connect()
        try:
            db.row_factory = sqlite3.Row
            return db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(str(exc)) from None
        finally:
            db.close()

    # -- writing ------------------------------------------------------------------------------

    def record(self, learner: str, result: StepResult, kind: str = "check") -> int:
        """Store one attempt and its items in one transaction. Returns the attempt's id."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        recorded_at = datetime.now(timezone.utc).isoformat()
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                counts = kind == "check" and result.passed and not self._assisted(
                    db, learner, result.lab, result.step)
                cursor = db.execute(
                    "INSERT INTO attempts (learner, lab, step, kind, status, counts, started_at,"
                    " duration, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (learner, result.lab, result.step, kind, result.status.value, int(counts),
                     result.started_at or recorded_at, result.duration, recorded_at))
                attempt_id = int(cursor.lastrowid or 0)
                db.executemany(
                    "INSERT INTO items (attempt_id, position, name, title, status, detail, hint,"
                    " duration) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(attempt_id, n, i.name, i.title, i.status.value, i.detail, i.hint, i.duration)
                     for n, i in enumerate(result.items)])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
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

    def last_result(self, learner: str, lab: str, step: str) -> StepResult | None:
        """The most recent attempt of any kind (a reset or solve changes the current state)."""
        rows = self._query(
            "SELECT id, started_at, duration FROM attempts WHERE learner = ? AND lab = ?"
            " AND step = ? ORDER BY id DESC LIMIT 1", (learner, lab, step))
        if not rows:
            return None
        items = self._query(
            "SELECT name, title, status, detail, hint, duration FROM items WHERE attempt_id = ?"
            " ORDER BY position", (rows[0]["id"],))
        return StepResult(lab, step, tuple(
            ItemResult(r["name"], r["title"], Status(r["status"]), r["detail"], r["hint"],
                       r["duration"]) for r in items),
            rows[0]["started_at"], rows[0]["duration"])

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
