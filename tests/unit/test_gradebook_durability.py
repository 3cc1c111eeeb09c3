"""Is every committed attempt still there, whole, after 30 graders wrote at once and some were killed
with SIGKILL in the middle of writing? Real processes, a real SQLite file (and a real PostgreSQL
server when one can be started: see test_gradebook_postgres.py)."""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from classroom import export
from grader import course
from classroom.gradebook import Gradebook
from classroom.gradebooks import open_gradebook

from test_gradebook_postgres import server, url  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 30
KILLED = 10
ITEMS = 4
DETAIL = "d" * 20_000  # big rows: a write takes long enough to be cut in the middle

# One grader: records attempts until told to stop, printing each id once record() has returned.
WRITER = f"""
import sys
from classroom.gradebook import Gradebook
from classroom.gradebooks import open_gradebook
from grader.result import ItemResult, Status, StepResult
location, learner = sys.argv[1], sys.argv[2]
book = open_gradebook(location)
print("ready", flush=True)
n = 0
while True:
    items = tuple(ItemResult(f"c{{k}}", f"Check {{k}}", Status.FAIL if k == {ITEMS} - 1 else Status.PASS,
                             f"{{learner}} {{n}} {{k}} " + "{DETAIL}", "Do it.", 0.01) for k in range({ITEMS}))
    attempt = book.record(learner, StepResult("install-postfix", "install", items, "2026-11-30T10:00:00+00:00", 0.1))
    print(attempt, flush=True)
    n += 1
"""


def run_writers(location: str, seconds: float) -> tuple[dict[str, list[int]], list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {f"learner{n:02d}": subprocess.Popen([sys.executable, "-c", WRITER, location, f"learner{n:02d}"],
                                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
             for n in range(WRITERS)}
    for name, proc in procs.items():  # 30 interpreters starting on few cores take a while
        assert proc.stdout.readline().strip() == "ready", f"{name} did not start: {proc.stderr.read()[-500:]}"
    rng = random.Random(7)
    victims = rng.sample(sorted(procs), KILLED)
    deadline = time.monotonic() + seconds
    for name in victims:  # SIGKILL at random moments, most of them inside a write
        time.sleep(rng.uniform(0, seconds / KILLED))
        procs[name].kill()
    time.sleep(max(0.0, deadline - time.monotonic()))
    for proc in procs.values():
        proc.send_signal(signal.SIGTERM)
    committed, errors = {}, []
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        committed[name] = [int(line) for line in out.split()]
        if name not in victims and proc.returncode != -signal.SIGTERM:
            errors.append(f"{name} exited {proc.returncode}: {err.strip()[-500:]}")
        elif "Traceback" in err and "KeyboardInterrupt" not in err and proc.returncode not in (-9, -15):
            errors.append(f"{name}: {err.strip()[-500:]}")
    return committed, errors


def assert_whole(book: Gradebook, committed: dict[str, list[int]]) -> None:
    rows = list(book.item_rows())
    by_attempt: dict[int, list[dict]] = {}
    for row in rows:
        by_attempt.setdefault(row["attempt"], []).append(row)
    for learner, ids in committed.items():
        missing = set(ids) - set(by_attempt)
        assert not missing, f"{learner}: committed attempts lost: {sorted(missing)[:5]}"
    for attempt, items in by_attempt.items():
        assert [i["position"] for i in items] == list(range(ITEMS)), f"attempt {attempt} is torn"
        learner = items[0]["learner"]
        assert all(i["detail"].startswith(f"{learner} ") and i["detail"].endswith(DETAIL) for i in items)
        assert {i["step_status"] for i in items} == {"FAIL"}
    attempts = sum(r.attempts for r in book.records())
    assert attempts == len(by_attempt) >= sum(map(len, committed.values()))
    lab = [course.find("install-postfix")]
    table = export.read_wide_csv(export.wide_csv(book, lab))
    assert set(table) == {name for name, ids in committed.items() if ids} | set(table)
    assert export.long_csv(book).count("\n") == len(rows) + 1


def test_sqlite_keeps_every_committed_attempt_whole_through_kill_9(tmp_path):
    path = tmp_path / "gradebook.sqlite"  # not created yet: 30 graders race to create it
    committed, errors = run_writers(str(path), seconds=6)
    assert not errors, "\n".join(errors)
    assert sum(map(len, committed.values())) > WRITERS  # they did write, and at the same time
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert_whole(open_gradebook(path), committed)


def test_postgres_keeps_every_committed_attempt_whole_through_kill_9(url):  # noqa: F811
    committed, errors = run_writers(url, seconds=6)
    assert not errors, "\n".join(errors)
    assert sum(map(len, committed.values())) > WRITERS
    assert_whole(open_gradebook(url), committed)
