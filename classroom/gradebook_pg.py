"""The gradebook in PostgreSQL: the same records and rules as the SQLite one, for a room whose
learners' graders run on several servers (a pod per learner on Kubernetes) and one dashboard.

`Gradebook("postgresql://user:password@host/dbname")` returns one of these. The SQL is the SQLite
gradebook's own, with `?` placeholders turned into psycopg's `%s`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .gradebook import Gradebook, GradebookError
from grader.i18n import Msg, _

_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE attempts (
    id          BIGSERIAL PRIMARY KEY,
    learner     TEXT NOT NULL,
    lab         TEXT NOT NULL,
    step        TEXT NOT NULL,
    kind        TEXT NOT NULL CONSTRAINT attempts_kind_check
                CHECK (kind IN ('check', 'solve', 'skip', 'reset', 'guidance')),
    status      TEXT NOT NULL,
    counts      INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    duration    DOUBLE PRECISION NOT NULL,
    recorded_at TEXT NOT NULL,
    mode        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_by_step ON attempts (learner, lab, step, id);
CREATE TABLE items (
    attempt_id BIGINT NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    name       TEXT NOT NULL,
    title      TEXT NOT NULL,
    status     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    hint       TEXT,
    duration   DOUBLE PRECISION NOT NULL,
    hint_level INTEGER NOT NULL DEFAULT 0,
    about      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (attempt_id, position)
)
"""
# PostgreSQL changes a constraint and adds a column in place.
_MIGRATIONS = {
    1: """
ALTER TABLE attempts DROP CONSTRAINT attempts_kind_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_kind_check
    CHECK (kind IN ('check', 'solve', 'skip', 'reset', 'guidance'));
ALTER TABLE attempts ADD COLUMN mode TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN hint_level INTEGER NOT NULL DEFAULT 0;
UPDATE schema_version SET version = 2
""",
    2: """
ALTER TABLE items ADD COLUMN about TEXT NOT NULL DEFAULT '';
UPDATE schema_version SET version = 3
""",
}
# One creator at a time, across every grader of the room.
_LOCK_KEY = 0x6D61696C6C6162  # "maillab"


class Row(dict):
    """A row readable by column name (like sqlite3.Row) and by position."""

    def __init__(self, names: list[str], values: tuple[Any, ...]):
        super().__init__(zip(names, values))
        self._values = values

    def __getitem__(self, key: Any) -> Any:
        return self._values[key] if isinstance(key, int) else super().__getitem__(key)


def _row_factory(cursor: Any) -> Any:
    names = [column.name for column in cursor.description or ()]
    return lambda values: Row(names, values)


class _Connection:
    """What Gradebook's SQL needs from a connection, over psycopg."""

    def __init__(self, raw: Any):
        self.raw = raw
        self.row_factory = None  # set by Gradebook._query; rows are always Row here

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        sql = sql.replace("BEGIN IMMEDIATE", "BEGIN").replace("?", "%s")
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)

    def close(self) -> None:
        self.raw.close()


class PostgresGradebook(Gradebook):
    SCHEMA = _SCHEMA
    MIGRATIONS = _MIGRATIONS

    def __init__(self, path: str | Path, **_ignored: Any) -> None:
        import psycopg

        self._psycopg = psycopg
        self._errors = (psycopg.Error,)
        self.url = re.sub(r"^(postgres(?:ql)?):/(?!/)", r"\1://", str(path))
        self.where = _redacted(self.url)  # what messages show: never the password
        self.path = Path(self.where)
        db = self._connect()
        try:
            self._initialise(db)
        finally:
            db.close()

    def _unreadable(self, why: str) -> GradebookError:
        return GradebookError(_(
            "The gradebook database {url} cannot be used: {why}. "
            "Check that PostgreSQL is running there and that the address, user and password are right.",
            url=_redacted(self.url), why=why if isinstance(why, Msg) else why.strip()))

    def _connect(self) -> Any:
        try:
            raw = self._psycopg.connect(self.url, autocommit=True, connect_timeout=10, row_factory=_row_factory)
        except self._psycopg.Error as exc:
            raise self._unreadable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        return _Connection(raw)

    def _keys(self, db: Any, on: bool) -> None:
        pass  # constraints change in place: nothing to switch off

    def _begin(self, db: Any) -> None:
        db.execute("BEGIN")
        db.execute("SELECT pg_advisory_xact_lock(%s)" % _LOCK_KEY)  # one creator of the schema at a time

    def _table_names(self, db: Any) -> set[str]:
        return {row[0] for row in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}

    def _foreign(self, tables: set[str]) -> str | None:
        # A database may hold other applications' tables; only ones named like ours are a conflict.
        if tables & {"attempts", "items"}:
            return _("The database {url} has tables named like a MailLab gradebook's but is "
                     "not one. Give the gradebook a database of its own.", url=_redacted(self.url))
        return None


def _redacted(url: str) -> str:
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)
