"""Every lab's checks on recorded machines (grader.tape): each tape in tests/tapes is one check of a
step on real machines (fresh, solved, or a wrong state of the course tests), replayed here without
root, machines or network. A tape that no longer replays to its recorded verdict means the checks
changed what they ask or conclude: record it again (docs/AUTHORING.md, "Tapes")."""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from grader import course
from grader import tape

TAPES = Path(__file__).resolve().parents[1] / "tapes"
ALL = sorted(TAPES.glob("*/*/*.json.gz"))


def _id(path: Path) -> str:
    return str(path.relative_to(TAPES)).removesuffix(".json.gz")


def test_there_are_tapes():
    assert len(ALL) >= 100


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_a_tape_replays_to_its_recorded_verdict(path):
    recorded, replayed = tape.replay(path)
    assert replayed == recorded


def test_every_step_has_a_failing_and_a_passing_tape():
    verdicts: dict[tuple[str, str], set[bool]] = {}
    for path in ALL:
        lab_id, step = path.parent.parent.name, path.parent.name
        with gzip.open(path, "rt") as handle:
            result = json.load(handle)["result"]
        verdicts.setdefault((lab_id, step), set()).add(all(status == "PASS" for _name, status in result))
    missing = [f"{lab.id} {step.id}" for lab in course.all_labs() for step in lab.steps
               if verdicts.get((lab.id, step.id)) != {True, False}]
    assert missing == [], "steps without both a failing and a passing tape"


def _edited(path: Path, tmp_path: Path, edit) -> Path:
    with gzip.open(path, "rt") as handle:
        data = json.load(handle)
    edit(data["answers"])
    out = tmp_path / "edited.json.gz"
    with gzip.open(out, "wt") as handle:
        json.dump(data, handle)
    return out


def _solved(lab_id: str, step: str) -> Path:
    for path in sorted((TAPES / lab_id / step).glob("test_course.py-test_selftest-*.json.gz")):
        recorded, _replayed = tape.replay(path)
        if all(status == "PASS" for _name, status in recorded):
            return path
    raise AssertionError(f"no passing selftest tape of {lab_id} {step}")


def test_a_changed_answer_changes_the_verdict(tmp_path):
    """The replay really runs the checks: the solved TLS certificate step, with the key's mode
    turned to 0644 on the tape, fails at the check of the key's mode."""
    def world_readable_key(answers):
        for where, values in answers.items():
            if where.startswith("stat ") and "/etc/ssl/private/mail.example.test.key" in where:
                for value in values:
                    if value and "__stat__" in value:
                        value["__stat__"][0] = (value["__stat__"][0] & ~0o777) | 0o644
    recorded, replayed = tape.replay(_edited(_solved("tls", "certificate"), tmp_path, world_readable_key))
    assert all(status == "PASS" for _name, status in recorded)
    assert ["only_root_can_read_the_key", "FAIL"] in replayed


def test_a_question_not_on_the_tape_is_an_error_not_a_pass(tmp_path):
    recorded, replayed = tape.replay(_edited(_solved("tls", "certificate"), tmp_path, lambda answers: answers.clear()))
    assert replayed[0][1] == "ERROR" and all(status != "PASS" for _name, status in replayed)


def test_values_survive_the_tape():
    from sandbox.result import ExecResult

    from grader.smtp_probe import Conversation, Reply

    stat = os.stat(__file__)
    talk = Conversation(host="192.0.2.10", port=25, connected=True, banner=Reply(220, ("mail ESMTP",)),
                        rcpt={"alice@example.test": Reply(250, ("2.1.5 Ok",))})
    values = [ExecResult(("postconf", "-h"), 0, b"ok\n", b"\xff", 0.1), talk, stat, (1, "a"), {"k": [b"x"]}]
    back = tape.decode(json.loads(json.dumps(tape.encode(values))))
    assert back[0] == values[0] and back[1] == talk and back[3:] == values[3:]
    assert (back[2].st_mode, back[2].st_mtime, back[2].st_size) == (stat.st_mode, stat.st_mtime, stat.st_size)


@pytest.mark.parametrize("name", ["os:system", "subprocess:Popen", "builtins:eval", "grader.tape:tape"])
def test_a_tape_names_only_the_grader_s_own_types(name):
    with pytest.raises((ValueError, AttributeError)):
        tape.decode({"__data__": name, "fields": {}})


@pytest.mark.skipif(os.geteuid() != 0, reason="run as an unprivileged user already")
def test_tapes_replay_as_an_unprivileged_user():
    """No root, no machine, no network namespace: a tape of each lab replays as `nobody`."""
    import subprocess
    import sys

    one_per_lab = sorted({path.parent.parent.name: path for path in ALL}.values())
    code = ("import sys; from grader import tape\n"
            "for p in sys.argv[1:]:\n"
            "    recorded, replayed = tape.replay(p)\n"
            "    assert recorded == replayed, p\n"
            "print('replayed', len(sys.argv) - 1)")
    done = subprocess.run([sys.executable, "-c", code, *map(str, one_per_lab)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], env={**os.environ, "HOME": "/tmp"},
                          user=65534, group=65534, extra_groups=[], timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"replayed {len(one_per_lab)}"
