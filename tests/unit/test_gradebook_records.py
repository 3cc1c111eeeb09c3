"""What an instructor reads from the gradebook: per-step records, the CSV export and the CLI."""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from classroom import export
from grader import course
from classroom.gradebook import Gradebook
from grader.result import ItemResult, Status, StepResult

LAB = "install-postfix"


def result(step, *statuses, started, hint="Run `apt-get install postfix`."):
    items = tuple(ItemResult(f"c{n}", f"Check {n}", s, f"saw {n}", hint if s is not Status.PASS else None, 0.1)
                  for n, s in enumerate(statuses))
    return StepResult(LAB, step, items, started, 0.2)


P, F, E = Status.PASS, Status.FAIL, Status.ERROR


@pytest.fixture
def book(tmp_path):
    book = Gradebook(tmp_path / "gradebook.sqlite")
    # alice: fails twice (two hints), then passes install; start: passes, then breaks it again
    book.record("alice", result("install", P, F, started="2026-11-30T09:00:00+00:00"))
    book.record("alice", result("install", F, started="2026-11-30T09:02:00+00:00", hint="Preseed first."))
    book.record("alice", result("install", P, P, started="2026-11-30T09:05:00+00:00"))
    book.record("alice", result("start", P, started="2026-11-30T09:10:00+00:00"))
    book.record("alice", result("start", P, F, started="2026-11-30T09:12:00+00:00"))
    # bob: uses the solution for install, then checks (passes, but does not count); skips start
    book.record("bob", result("install", F, started="2026-11-30T09:01:00+00:00"))
    book.record("bob", result("install", started="2026-11-30T09:03:00+00:00"), kind="solve")
    book.record("bob", result("install", P, started="2026-11-30T09:04:00+00:00"))
    book.record("bob", result("start", started="2026-11-30T09:06:00+00:00"), kind="skip")
    # carol: an ERROR (the grader broke), then a reset
    book.record("carol", result("install", E, started="2026-11-30T09:07:00+00:00", hint="Tell your instructor."))
    book.record("carol", result("install", started="2026-11-30T09:08:00+00:00"), kind="reset")
    return book


def records(book):
    return {(r.learner, r.step): r for r in book.records()}


def test_a_learners_story_per_step(book):
    r = records(book)
    alice = r["alice", "install"]
    assert (alice.attempts, alice.first_status, alice.last_status) == (3, "FAIL", "PASS")
    assert (alice.passed_now, alice.ever_passed) == (True, True)
    assert alice.first_pass_at == "2026-11-30T09:05:00+00:00"
    assert alice.first_attempt_at == "2026-11-30T09:00:00+00:00"
    assert (alice.hints_shown, alice.last_hint) == (2, "Preseed first.")
    assert (alice.solved, alice.skipped, alice.resets) == (0, 0, 0)
    start = r["alice", "start"]
    assert (start.passed_now, start.ever_passed, start.last_status) == (False, True, "FAIL")


def test_solve_and_skip_are_recorded_as_such_never_as_passed(book):
    r = records(book)
    bob = r["bob", "install"]
    assert (bob.solved, bob.attempts, bob.last_status) == (1, 2, "PASS")
    assert (bob.passed_now, bob.ever_passed, bob.first_pass_at) == (False, False, "")
    skipped = r["bob", "start"]
    assert (skipped.skipped, skipped.attempts, skipped.passed_now, skipped.ever_passed) == (1, 0, False, False)
    assert skipped.last_kind == "skip"


def test_errors_and_resets(book):
    carol = records(book)["carol", "install"]
    assert (carol.last_status, carol.resets, carol.last_kind, carol.hints_shown) == ("ERROR", 1, "reset", 1)
    assert book.records(learner="carol") == [carol]
    assert book.records(lab="another-lab") == []


def test_last_result_can_skip_markers(book):
    assert book.last_result("carol", LAB, "install").items == ()
    assert book.last_result("carol", LAB, "install", checks_only=True).status is Status.ERROR


def test_a_new_gradebook_is_private(tmp_path):
    book = Gradebook(tmp_path / "new.sqlite")
    assert book.path.stat().st_mode & 0o777 == 0o600


def test_wide_export_round_trips_with_the_same_numbers(book):
    lab = course.find(LAB)
    for target in export.IDENTITY_COLUMNS:
        text = export.wide_csv(book, [lab], target=target)
        parsed = export.read_wide_csv(text)
        people, table, columns = export.wide_rows(book, [lab])
        assert parsed == dict(zip(people, table)), target
        assert parsed["alice"] == {"install-postfix: install": 1, "install-postfix: start": 1,
                                   "install-postfix: local-delivery": 0, "install-postfix total": 2}
        assert parsed["bob"]["install-postfix total"] == 0  # solve and skip score nothing
        assert parsed["carol"]["install-postfix total"] == 0
    now = export.read_wide_csv(export.wide_csv(book, [lab], score="now"))
    assert now["alice"]["install-postfix: start"] == 0  # broken again since
    assert now["alice"]["install-postfix total"] == 1


def test_canvas_and_moodle_headers(book):
    lab = course.find(LAB)
    canvas = next(csv.reader(io.StringIO(export.wide_csv(book, [lab], target="canvas"))))
    assert canvas[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[5:] == ["install-postfix: install", "install-postfix: start", "install-postfix: local-delivery",
                          "install-postfix total"]
    rows = list(csv.DictReader(io.StringIO(export.wide_csv(book, [lab], target="canvas"))))
    assert rows[0]["Student"] == rows[0]["SIS Login ID"] == "alice"
    moodle = next(csv.reader(io.StringIO(export.wide_csv(book, [lab], target="moodle"))))
    assert moodle[0] == "Username"


def test_long_export_has_a_row_per_check(book):
    rows = list(csv.DictReader(io.StringIO(export.long_csv(book))))
    assert tuple(rows[0]) == export.LONG_COLUMNS
    alice = [r for r in rows if r["learner"] == "alice"]
    assert len(alice) == 2 + 1 + 2 + 1 + 2
    assert alice[1]["check_status"] == "FAIL" and alice[1]["hint"] == "Run `apt-get install postfix`."
    bob_solve = [r for r in rows if r["learner"] == "bob" and r["kind"] == "solve"]
    assert len(bob_solve) == 1 and bob_solve[0]["check"] == "" == bob_solve[0]["duration"]  # a solve has no checks
    assert {r["counts"] for r in rows if r["learner"] == "bob"} == {"0"}


def test_step_states_say_what_the_notebook_shows_and_since_when(book):
    alice, bob, carol = (book.step_states(n, LAB) for n in ("alice", "bob", "carol"))
    assert (alice["install"]["state"], alice["install"]["at"]) == ("passed", "2026-11-30T09:05:00+00:00")
    assert (alice["start"]["state"], alice["start"]["status"]) == ("failed", "FAIL")
    # a check that passes on the reference solution leaves the step "solution used", and says when it ran
    assert (bob["install"]["state"], bob["install"]["at"]) == ("solved", "2026-11-30T09:03:00+00:00")
    assert bob["install"]["checked_at"] == "2026-11-30T09:04:00+00:00"
    assert bob["start"]["state"] == "skipped"
    assert carol["install"]["state"] == "reset" and "local-delivery" not in carol


def test_a_pass_after_the_how_to_is_passed_with_help_and_in_the_long_export(book):
    book.record("dan", result("install", started="2026-11-30T09:20:00+00:00"), kind="guidance", mode="challenge")
    book.record("dan", result("install", P, started="2026-11-30T09:21:00+00:00"))
    assert book.step_states("dan", LAB)["install"]["state"] == "helped"
    rows = [r for r in csv.DictReader(io.StringIO(export.long_csv(book))) if r["learner"] == "dan"]
    assert [(r["kind"], r["mode"], r["check"]) for r in rows] == [("guidance", "challenge", ""), ("check", "", "c0")]
    own = export.read_wide_csv(export.wide_csv(book, [course.find(LAB)], score="own"))
    assert own["dan"]["install-postfix: install"] == 0


# -- the CLI -------------------------------------------------------------------------------

def maillab(*args, gradebook: Path):
    exe = Path(sys.executable).with_name("maillab")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MAILLAB_GRADEBOOK": str(gradebook)})


def test_cli_show_and_export(book, tmp_path):
    shown = maillab("gradebook", "show", gradebook=book.path)
    assert shown.returncode == 0, shown.stderr
    line = next(l for l in shown.stdout.splitlines() if l.startswith("bob") and " install " in l)
    assert "solve 1x" in line and " no " in line
    alice = next(l for l in shown.stdout.splitlines() if l.startswith("alice") and " install " in l)
    assert "PASS" in alice and "2026-11-30 09:05" in alice
    out = tmp_path / "grades.csv"
    exported = maillab("gradebook", "export", "--csv", "--for", "moodle", "-o", str(out), gradebook=book.path)
    assert exported.returncode == 0, exported.stderr
    assert export.read_wide_csv(out.read_text())["alice"]["install-postfix total"] == 2
    long = maillab("gradebook", "export", "--csv", "--long", gradebook=book.path)
    assert long.returncode == 0 and long.stdout.startswith("learner,lab,step,attempt")


def test_cli_speaks_the_instructors_language_not_the_learners_saved_one(book, tmp_path):
    """Issue 17 item 12: a learner chose Chinese (`maillab up --lang zh`); the instructor's locale is English."""
    home = tmp_path / "home"
    env = {**os.environ, "MAILLAB_GRADEBOOK": str(book.path), "MAILLAB_HOME": str(home), "LANG": "C.UTF-8"}
    env.pop("MAILLAB_LANG", None)
    done = subprocess.run([sys.executable, "-c", "from grader.state import save_language; save_language('zh')"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    shown = subprocess.run([str(Path(sys.executable).with_name("maillab")), "gradebook", "show"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "PASS" in shown.stdout and "通过" not in shown.stdout, shown.stdout
    chinese = subprocess.run([str(Path(sys.executable).with_name("maillab")), "gradebook", "show"],
                             env={**env, "MAILLAB_LANG": "zh"}, capture_output=True, text=True, timeout=60)
    assert chinese.returncode == 0 and chinese.stdout != shown.stdout


def test_cli_unknown_learner(book):
    done = maillab("gradebook", "show", "--learner", "mallory", gradebook=book.path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("maillab: The gradebook has no learner called 'mallory'. "
                                   "Learners with grades: alice, bob, carol.")


def test_cli_corrupt_gradebook_is_left_as_it_is(tmp_path):
    path = tmp_path / "gradebook.sqlite"
    path.write_bytes(b"not a database at all\n" * 50)
    before = path.read_bytes()
    for args in (("gradebook", "show"), ("gradebook", "export", "--csv")):
        done = maillab(*args, gradebook=path)
        assert done.returncode == 3
        assert "is not a readable SQLite database" in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert path.read_bytes() == before


def test_cli_no_gradebook_yet(tmp_path):
    done = maillab("gradebook", "show", gradebook=tmp_path / "none.sqlite")
    assert done.returncode == 2 and "There is no gradebook" in done.stderr
    assert not (tmp_path / "none.sqlite").exists()


def test_export_needs_csv(book):
    done = maillab("gradebook", "export", gradebook=book.path)
    assert done.returncode == 2 and "--csv" in done.stderr


def test_gradebook_refuses_a_reader_without_permission(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    book = Gradebook(tmp_path / "gb.sqlite")
    code = ("from classroom.gradebook import Gradebook, GradebookError\n"
            f"try:\n    Gradebook({str(book.path)!r})\nexcept GradebookError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, user=65534, group=65534,
                          env={**os.environ, "HOME": "/tmp"}, cwd="/tmp")
    assert "You may not open the gradebook" in done.stdout, done.stderr


def test_score_own_counts_only_steps_passed_before_any_how_to(tmp_path):
    from classroom import export
    from classroom.gradebook import Gradebook
    from grader import course
    from grader.result import ItemResult, Status, StepResult

    book = Gradebook(tmp_path / "gb.sqlite")
    lab = course.find("install-postfix")
    passed = StepResult(lab.id, "install", (ItemResult("c", "C", Status.PASS, "ok", None, 0.1),),
                        "2026-11-30T09:00:00+00:00", 0.1)
    shown = StepResult(lab.id, "install", (), "2026-11-30T08:59:00+00:00", 0.0)
    book.record("alice", passed)                                   # her own work
    book.record("alice", shown, kind="guidance", mode="challenge")  # looked afterwards: still her own
    book.record("bob", shown, kind="guidance", mode="guided")       # read the how-to first
    book.record("bob", passed)
    own = export.read_wide_csv(export.wide_csv(book, [lab], score="own"))
    ever = export.read_wide_csv(export.wide_csv(book, [lab], score="ever"))
    assert own["alice"]["install-postfix: install"] == 1 and own["bob"]["install-postfix: install"] == 0
    assert ever["alice"]["install-postfix: install"] == ever["bob"]["install-postfix: install"] == 1
