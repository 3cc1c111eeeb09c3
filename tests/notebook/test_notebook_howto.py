"""A step's how-to in the notebook: shown at once in guided mode, behind "Show me how" in challenge
mode; the gradebook records each showing with its mode, and a how-to that cannot be recorded is
not shown."""
from __future__ import annotations

import pytest

from classroom.gradebook import Gradebook
from classroom.notebook.howto import HowTo, howto_path
from classroom.session import LabSession
from grader import i18n
from grader import course

LAB = """id = "demo"
title = "Demo"
[[steps]]
id = "one"
title = "One"
[[steps]]
id = "two"
title = "Two"
"""


@pytest.fixture
def lab(tmp_path):
    folder = tmp_path / "01-demo"
    (folder / "howto").mkdir(parents=True)
    (folder / "lab.toml").write_text(LAB)
    (folder / "howto" / "one.md").write_text("Type `echo example.test > /etc/mailname`.\n")
    (folder / "howto" / "one.zh.md").write_text("输入 `echo example.test > /etc/mailname`。\n")
    return course.load(folder)


class Recording:
    def __init__(self, lab, fail=None):
        self.lab, self.fail, self.seen = lab, fail, []

    def record_guidance(self, step_id, mode):
        if self.fail:
            raise self.fail
        self.seen.append((step_id, mode))


def test_guided_mode_shows_the_how_to_at_once_and_records_it(lab):
    session = Recording(lab)
    howto = HowTo(session, "one", mode="guided")
    howto.show()
    assert howto.shown and session.seen == [("one", "guided")]
    assert "echo example.test" in howto.text


def test_challenge_mode_keeps_it_closed_until_asked(lab):
    session = Recording(lab)
    howto = HowTo(session, "one", mode="challenge")
    howto.show()
    assert not howto.shown and session.seen == [] and howto.button.layout.display != "none"
    assert howto.reveal()
    assert howto.shown and session.seen == [("one", "challenge")] and howto.button.layout.display == "none"


def test_a_how_to_that_cannot_be_recorded_is_not_shown(lab):
    session = Recording(lab, fail=OSError("the gradebook is read-only"))
    howto = HowTo(session, "one", mode="challenge")
    assert not howto.reveal()
    assert not howto.shown and "the gradebook is read-only" in howto.note.value


def test_a_step_without_a_how_to_says_so_and_records_nothing(lab):
    session = Recording(lab)
    howto = HowTo(session, "two", mode="guided")
    howto.show()
    assert not howto.shown and session.seen == [] and "no how-to" in howto.note.value


def test_the_chinese_edition_reads_its_own_how_to(lab):
    assert howto_path(lab.dir, "one", "zh").name == "one.zh.md"
    assert howto_path(lab.dir, "one", "en").name == "one.md"
    with i18n.speaking("zh"):
        assert "输入" in HowTo(Recording(lab), "one", mode="challenge").text


def test_the_mode_comes_from_the_workshop_then_the_learner(lab, monkeypatch, tmp_path):
    from grader import state

    monkeypatch.setenv("MAILLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MAILLAB_LEARNER", "alice")
    monkeypatch.delenv("MAILLAB_MODE", raising=False)
    assert state.mode() == "guided"
    state.save_mode("challenge")
    assert state.mode() == "challenge" and HowTo(Recording(lab), "one").mode == "challenge"
    monkeypatch.setenv("MAILLAB_MODE", "guided")
    assert state.mode() == "guided"


def test_a_real_session_records_guidance_in_the_gradebook(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAB_GRADEBOOK", str(tmp_path / "gb.sqlite"))
    session = LabSession(lab, "alice")
    HowTo(session, "one", mode="challenge").reveal()
    [record] = Gradebook(tmp_path / "gb.sqlite").records()
    assert (record.step, record.guided, record.own_passed) == ("one", 1, False)
    assert [a["kind"] for a in Gradebook(tmp_path / "gb.sqlite").attempts("alice", "demo")] == ["guidance"]
