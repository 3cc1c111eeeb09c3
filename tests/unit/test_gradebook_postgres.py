"""The gradebook in a real PostgreSQL server (started for these tests on a Unix socket of its own):
the same story in SQLite and in PostgreSQL reads back the same."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading

import pytest

from classroom import export
from grader import course
from classroom.gradebook import Gradebook, GradebookError
from classroom.gradebooks import open_gradebook
from grader.result import ItemResult, Status, StepResult

P, F = Status.PASS, Status.FAIL


def result(step, *statuses, started):
    items = tuple(ItemResult(f"c{n}", f"Check {n}", s, f"saw {n}", None if s is P else "Do this.", 0.1)
                  for n, s in enumerate(statuses))
    return StepResult("install-postfix", step, items, started, 0.2)

BINDIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def as_postgres(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, user="postgres", group="postgres", cwd="/tmp",
                          timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def server():
    if os.geteuid() != 0 or not BINDIRS:
        pytest.skip("needs root and PostgreSQL (the postgresql package)")
    pytest.importorskip("psycopg")
    bindir = BINDIRS[-1]
    data = tempfile.mkdtemp(prefix="maillab-pg-test-", dir="/tmp")
    shutil.chown(data, "postgres", "postgres")
    as_postgres(f"{bindir}/initdb", "-D", data, "-U", "maillab", "--auth=trust", "-E", "UTF8")
    # No TCP at all: a socket in the data folder, so nothing else on the machine can collide.
    as_postgres(f"{bindir}/pg_ctl", "-D", data, "-w", "-l", f"{data}/log", "-o",
                f"-c listen_addresses='' -k {data}", "start")
    try:
        yield f"postgresql://maillab@/postgres?host={data}"
    finally:
        subprocess.run([f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True,
                       user="postgres", group="postgres", cwd="/tmp", timeout=60)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def url(server):
    import psycopg

    with psycopg.connect(server, autocommit=True) as db:  # each test starts from an empty database
        for table in ("items", "attempts", "schema_version"):
            db.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    return server


STORY = [
    ("alice", "install", (P, F), "check", "2026-11-30T09:00:00+00:00"),
    ("alice", "install", (P, P), "check", "2026-11-30T09:05:00+00:00"),
    ("alice", "start", (P, F), "check", "2026-11-30T09:12:00+00:00"),
    ("bob", "install", (F,), "check", "2026-11-30T09:01:00+00:00"),
    ("bob", "install", (), "solve", "2026-11-30T09:03:00+00:00"),
    ("bob", "install", (P,), "check", "2026-11-30T09:04:00+00:00"),
    ("carol", "install", (Status.ERROR,), "check", "2026-11-30T09:07:00+00:00"),
    ("carol", "install", (), "reset", "2026-11-30T09:08:00+00:00"),
]


def tell(book: Gradebook) -> None:
    for learner, step, statuses, kind, started in STORY:
        book.record(learner, result(step, *statuses, started=started), kind=kind)


def test_the_same_story_reads_back_the_same(url, tmp_path):
    postgres, sqlite = open_gradebook(url), open_gradebook(tmp_path / "gb.sqlite")
    assert type(postgres).__name__ == "PostgresGradebook"
    tell(postgres)
    tell(sqlite)
    assert postgres.records() == sqlite.records()
    assert postgres.learners() == sqlite.learners() == ["alice", "bob", "carol"]
    for learner in ("alice", "bob", "carol"):
        assert postgres.progress(learner, "install-postfix") == sqlite.progress(learner, "install-postfix")
        assert postgres.last_result(learner, "install-postfix", "install") == \
            sqlite.last_result(learner, "install-postfix", "install")
    assert postgres.first_pass("alice", "install-postfix", "install") == "2026-11-30T09:05:00+00:00"
    assert postgres.first_pass("bob", "install-postfix", "install") is None  # after a solve: not a pass
    lab = [course.find("install-postfix")]
    assert export.wide_csv(postgres, lab, target="canvas") == export.wide_csv(sqlite, lab, target="canvas")
    assert export.long_csv(postgres) == export.long_csv(sqlite)
    open_gradebook(url)  # opening again keeps the schema as it is
    assert len(open_gradebook(url).records()) == len(sqlite.records())


def test_the_cli_reads_a_postgres_gradebook(url):
    tell(open_gradebook(url))
    exe = os.path.join(os.path.dirname(sys.executable), "maillab")
    done = subprocess.run([exe, "gradebook", "export", "--csv", "--for", "moodle"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "MAILLAB_GRADEBOOK": url})
    assert done.returncode == 0, done.stderr
    assert export.read_wide_csv(done.stdout)["alice"]["install-postfix total"] == 1
    shown = subprocess.run([exe, "gradebook", "show"], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "MAILLAB_GRADEBOOK": url})
    assert shown.returncode == 0 and shown.stdout.startswith("Gradebook postgresql://maillab@/postgres"), shown


def test_graders_on_several_servers_lose_nothing(url):
    open_gradebook(url)
    errors: list[BaseException] = []

    def grader(name: str) -> None:
        try:
            book = open_gradebook(url)
            for n in range(10):
                book.record(name, result("install", F if n % 2 else P, started=f"2026-11-30T10:00:{n:02d}+00:00"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=grader, args=(f"learner{n}",)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    book = open_gradebook(url)
    assert [r.attempts for r in book.records()] == [10] * 5


def test_an_unreachable_database_is_one_sentence_without_the_password(tmp_path):
    pytest.importorskip("psycopg")
    with pytest.raises(GradebookError) as caught:
        open_gradebook(f"postgresql://maillab:s3cret@/grades?host={tmp_path}")
    message = str(caught.value)
    assert message.startswith("The gradebook database postgresql://maillab:***@/grades")
    assert "s3cret" not in message and "Check that PostgreSQL is running" in message
    assert "\n" not in message


V1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE attempts (
    id BIGSERIAL PRIMARY KEY, learner TEXT NOT NULL, lab TEXT NOT NULL, step TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('check', 'solve', 'skip', 'reset')), status TEXT NOT NULL,
    counts INTEGER NOT NULL, started_at TEXT NOT NULL, duration DOUBLE PRECISION NOT NULL, recorded_at TEXT NOT NULL);
CREATE TABLE items (
    attempt_id BIGINT NOT NULL REFERENCES attempts (id) ON DELETE CASCADE, position INTEGER NOT NULL,
    name TEXT NOT NULL, title TEXT NOT NULL, status TEXT NOT NULL, detail TEXT NOT NULL, hint TEXT,
    duration DOUBLE PRECISION NOT NULL, PRIMARY KEY (attempt_id, position));
INSERT INTO schema_version VALUES (1);
INSERT INTO attempts (learner, lab, step, kind, status, counts, started_at, duration, recorded_at)
    VALUES ('alice', 'install-postfix', 'install', 'check', 'PASS', 1, '2026-11-01T10:00:00+00:00', 0.2, 'x');
INSERT INTO items VALUES (1, 0, 'c0', 'Check 0', 'PASS', 'saw 0', NULL, 0.1)
"""


def test_a_version_1_database_is_brought_up_to_date_and_loses_nothing(url):
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        for statement in V1.split(";"):
            db.execute(statement)
    book = open_gradebook(url)
    [record] = book.records()
    assert record.ever_passed and record.own_passed and len(list(book.item_rows())) == 1
    book.record("alice", StepResult("install-postfix", "install", (), "2026-11-02T10:00:00+00:00", 0.0),
                kind="guidance", mode="guided")
    assert open_gradebook(url).records()[0].guided == 1
