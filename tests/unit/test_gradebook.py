"""The SQLite gradebook: attempts, progress, first pass, and files it must never damage."""
from __future__ import annotations

import sqlite3
import threading

import pytest

from classroom.gradebook import SCHEMA_VERSION, Gradebook, GradebookError
from grader.result import ItemResult, Status, StepResult


def step_result(step="install", *statuses, started="2026-11-30T05:40:01+00:00"):
    items = tuple(ItemResult(f"c{n}", f"Check {n}", s, f"seen {n}", "do this" if s is not Status.PASS else None, 0.1)
                  for n, s in enumerate(statuses))
    return StepResult("02-install-postfix", step, items, started, 0.3)


PASS = (Status.PASS, Status.PASS)
FAIL = (Status.PASS, Status.FAIL)


@pytest.fixture
def book(tmp_path):
    return Gradebook(tmp_path / "grades" / "gradebook.sqlite")


def test_record_and_read_back_the_last_result(book):
    first = step_result("install", *FAIL, started="2026-11-30T05:40:01+00:00")
    second = step_result("install", *PASS, started="2026-11-30T05:45:00+00:00")
    book.record("alice", first)
    book.record("alice", second)
    assert book.last_result("alice", "02-install-postfix", "install") == second
    assert book.last_result("bob", "02-install-postfix", "install") is None
    assert book.first_pass("alice", "02-install-postfix", "install") == "2026-11-30T05:45:00+00:00"


def test_progress_per_step(book):
    book.record("alice", step_result("install", *FAIL))
    book.record("alice", step_result("install", *PASS, started="2026-11-30T05:41:00+00:00"))
    book.record("alice", step_result("install", *FAIL))  # broke it again afterwards
    book.record("alice", step_result("start", *PASS))
    book.record("bob", step_result("install", *PASS))
    assert book.progress("alice", "02-install-postfix") == {
        "install": {"passed_now": False, "ever_passed": True, "attempts": 3},
        "start": {"passed_now": True, "ever_passed": True, "attempts": 1},
    }
    assert book.progress("alice", "03-local-users") == {}


def test_solve_and_skip_never_count_as_a_pass(book):
    book.record("alice", step_result("install", *PASS), kind="solve")
    book.record("alice", step_result("start", *PASS), kind="skip")
    # the machine passes after the solve, but the learner did not do the work
    book.record("alice", step_result("install", *PASS), kind="check")
    progress = book.progress("alice", "02-install-postfix")
    assert progress["install"] == {"passed_now": False, "ever_passed": False, "attempts": 1}
    assert progress["start"] == {"passed_now": False, "ever_passed": False, "attempts": 0}
    assert book.first_pass("alice", "02-install-postfix", "install") is None
    # after a reset the learner's own work counts again
    book.record("alice", step_result("install"), kind="reset")
    assert book.progress("alice", "02-install-postfix")["install"]["passed_now"] is False
    book.record("alice", step_result("install", *PASS, started="2026-11-30T06:00:00+00:00"))
    assert book.progress("alice", "02-install-postfix")["install"] == {
        "passed_now": True, "ever_passed": True, "attempts": 2}
    assert book.first_pass("alice", "02-install-postfix", "install") == "2026-11-30T06:00:00+00:00"


def test_a_reset_is_the_current_state(book):
    book.record("alice", step_result("install", *PASS))
    book.record("alice", step_result("install"), kind="reset")
    last = book.last_result("alice", "02-install-postfix", "install")
    assert last.status is Status.NOT_RUN
    assert book.progress("alice", "02-install-postfix")["install"]["ever_passed"] is True


def test_unknown_kind_is_refused(book):
    with pytest.raises(ValueError):
        book.record("alice", step_result("install", *PASS), kind="bribe")


def test_schema_version_and_wal(book):
    db = sqlite3.connect(book.path)
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    Gradebook(book.path)  # reopening keeps one version row
    db = sqlite3.connect(book.path)
    assert db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1
    db.close()


def test_a_corrupt_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "gradebook.sqlite"
    original = b"these are my notes, not a database\n" * 10
    path.write_bytes(original)
    with pytest.raises(GradebookError) as caught:
        Gradebook(path)
    message = str(caught.value)
    assert f"The gradebook at {path} is not a readable SQLite database" in message
    assert "Move it aside" in message
    assert path.read_bytes() == original
    assert not (tmp_path / "gradebook.sqlite-wal").exists()


def test_a_damaged_sqlite_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "gradebook.sqlite"
    book = Gradebook(path)
    book.record("alice", step_result("install", *PASS))
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    damaged = bytearray(path.read_bytes())
    damaged[100:4096] = b"\xff" * (4096 - 100)  # header intact, schema page destroyed
    path.write_bytes(bytes(damaged))
    with pytest.raises(GradebookError, match="not a readable SQLite database"):
        Gradebook(path)
    assert path.read_bytes() == bytes(damaged)


def test_another_programs_database_is_not_taken_over(tmp_path):
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE recipes (name TEXT)")
    db.commit()
    db.close()
    with pytest.raises(GradebookError, match="not a MailLab gradebook"):
        Gradebook(path)
    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["recipes"]
    db.close()


def test_a_directory_in_the_way(tmp_path):
    (tmp_path / "gb").mkdir()
    with pytest.raises(GradebookError, match="it is a directory"):
        Gradebook(tmp_path / "gb")


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "gradebook.sqlite"
    Gradebook(path)
    errors: list[BaseException] = []

    def learner(name: str) -> None:
        try:
            book = Gradebook(path)  # each writer opens the file itself, as separate processes would
            for n in range(15):
                book.record(name, step_result("install", *(FAIL if n % 2 else PASS)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=learner, args=(f"learner{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    book = Gradebook(path)
    assert book.learners() == [f"learner{n}" for n in range(6)]
    for n in range(6):
        assert book.progress(f"learner{n}", "02-install-postfix")["install"]["attempts"] == 15
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 6 * 15 * 2
    db.close()


# -- guidance: the step's how-to shown ---------------------------------------------------------

def marker(step="install"):
    return StepResult("02-install-postfix", step, (), "2026-11-30T05:50:00+00:00", 0.0)


def test_guidance_changes_no_state_and_keeps_the_pass(book):
    book.record("alice", step_result("install", *PASS))
    book.record("alice", marker(), kind="guidance", mode="challenge")
    [record] = book.records(learner="alice")
    assert record.passed_now and record.ever_passed and record.own_passed and record.guided == 1
    assert book.progress("alice", "02-install-postfix")["install"]["passed_now"]
    assert book.last_result("alice", "02-install-postfix", "install").passed


def test_a_pass_after_guidance_counts_but_is_not_the_learners_own(book):
    book.record("bob", marker(), kind="guidance", mode="guided")
    book.record("bob", step_result("install", *PASS, started="2026-11-30T05:55:00+00:00"))
    [record] = book.records(learner="bob")
    assert record.ever_passed and record.passed_now and not record.own_passed and record.guided == 1
    assert [(a["kind"], a["counts"]) for a in book.attempts("bob", "02-install-postfix")] == [
        ("guidance", 0), ("check", 1)]


def test_a_mode_must_be_known(book):
    with pytest.raises(ValueError, match="mode must be one of guided, challenge"):
        book.record("bob", marker(), kind="guidance", mode="easy")


V1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY, learner TEXT NOT NULL, lab TEXT NOT NULL, step TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('check', 'solve', 'skip', 'reset')), status TEXT NOT NULL,
    counts INTEGER NOT NULL, started_at TEXT NOT NULL, duration REAL NOT NULL, recorded_at TEXT NOT NULL);
CREATE INDEX attempts_by_step ON attempts (learner, lab, step, id);
CREATE TABLE items (
    attempt_id INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE, position INTEGER NOT NULL,
    name TEXT NOT NULL, title TEXT NOT NULL, status TEXT NOT NULL, detail TEXT NOT NULL, hint TEXT,
    duration REAL NOT NULL, PRIMARY KEY (attempt_id, position));
INSERT INTO schema_version VALUES (1);
INSERT INTO attempts VALUES (1, 'alice', '02-install-postfix', 'install', 'check', 'FAIL', 0,
    '2026-11-01T10:00:00+00:00', 0.2, '2026-11-01T10:00:01+00:00');
INSERT INTO attempts VALUES (2, 'alice', '02-install-postfix', 'install', 'check', 'PASS', 1,
    '2026-11-01T10:05:00+00:00', 0.2, '2026-11-01T10:05:01+00:00');
INSERT INTO items VALUES (1, 0, 'c0', 'Check 0', 'FAIL', 'seen 0', 'do this', 0.1);
INSERT INTO items VALUES (2, 0, 'c0', 'Check 0', 'PASS', 'seen 0', NULL, 0.1);
"""


def test_a_version_1_gradebook_is_brought_up_to_date_and_loses_nothing(tmp_path):
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript(V1_SCHEMA)
    old.close()
    book = Gradebook(path)
    assert SCHEMA_VERSION == 3
    assert sqlite3.connect(path).execute("SELECT version FROM schema_version").fetchall() == [(3,)]
    [record] = book.records()
    assert (record.learner, record.attempts, record.ever_passed, record.own_passed) == ("alice", 2, True, True)
    assert book.last_result("alice", "02-install-postfix", "install").passed
    assert len(list(book.item_rows())) == 2  # the items survived the table being made anew
    book.record("alice", marker(), kind="guidance", mode="challenge")
    assert book.records()[0].guided == 1
    again = Gradebook(path)  # opening again changes nothing
    assert len(list(again.item_rows())) == 2
    assert sqlite3.connect(path).execute("PRAGMA foreign_key_check").fetchall() == []


def test_fails_before_counts_each_checks_own_fails_and_levels_are_kept(book):
    def failing(level):
        return StepResult("02-install-postfix", "install", (
            ItemResult("c0", "Check 0", Status.PASS, "ok", None, 0.1),
            ItemResult("c1", "Check 1", Status.FAIL, "seen", "look here", 0.1, level)), "2026-11-30T06:00:00+00:00", 0.2)

    book.record("alice", failing(0))
    book.record("alice", failing(1))
    book.record("alice", marker(), kind="reset")
    assert book.fails_before("alice", "02-install-postfix", "install") == {"c1": 2}
    assert book.fails_before("bob", "02-install-postfix", "install") == {}
    assert book.last_result("alice", "02-install-postfix", "install", checks_only=True).items[1].hint_level == 1
    assert book.records(learner="alice")[0].hint_level == 1


def test_fails_with_a_ladder_of_their_own_are_counted_per_thing_they_were_about(book):
    def failing(about, level):
        return StepResult("12-troubleshooting", "repair", (
            ItemResult("every_fault_is_repaired", "Every fault is repaired", Status.FAIL, "left", "hint", 0.1, level,
                       about),), "2026-11-30T06:00:00+00:00", 0.2)

    for about, level in (("lmtp-socket", 0), ("lmtp-socket", 1), ("open-relay", 0)):
        book.record("alice", failing(about, level))
    assert book.fails_before("alice", "12-troubleshooting", "repair") == {
        "every_fault_is_repaired": 3, "every_fault_is_repaired#lmtp-socket": 2, "every_fault_is_repaired#open-relay": 1}
    assert book.last_result("alice", "12-troubleshooting", "repair").items[0].about == "open-relay"
