"""The check panel's buttons on a real lab machine: Skip to here, Reset this step, Check, and a
machine stopped behind the notebook's back."""
from __future__ import annotations

import os

import pytest

from real_machines import real_lab
from classroom.notebook import NotebookLab

pytestmark = pytest.mark.machine

LEARNER = os.environ.get("MAILLAB_TEST_LEARNER", "pytest") + "-panel"  # runs side by side use their own


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    with real_lab(tmp_path_factory, LEARNER) as lab:
        yield lab


def test_skip_reset_and_a_stopped_machine_on_a_real_lab(session):
    lab = NotebookLab(session)
    lab.start()
    panel = lab.panel("start")
    assert "Not checked yet" in panel.result_area.value

    panel.ask("skip")
    assert panel.confirm().result(timeout=180) is True
    assert "Reference solution used" in panel.result_area.value and "\u201cInstall Postfix" in panel.result_area.value
    assert session.check("install").passed  # the earlier step's solution is on the machine
    assert not session.progress()["install"]["passed_now"]  # but a skipped step does not count

    panel.check().result(timeout=60)
    assert "<strong>FAIL</strong>" in panel.result_area.value  # this step is still the learner's to do
    session.machine().exec(["service", "postfix", "start"], timeout=60)
    panel.check().result(timeout=60)
    assert "<strong>PASS</strong>" in panel.result_area.value
    assert "1 of 3 steps passed" in lab.progress_text.value

    panel.ask("reset")
    assert panel.confirm().result(timeout=180) is True
    assert "back to how it was at the start of step \u201cStart Postfix" in panel.result_area.value
    assert session.check("install").passed and not session.check("start").passed

    session.reset()  # the whole lab undone: the learner's own work counts again, the skip is gone
    script = (session.lab.dir / "solve" / "install.sh").read_text()
    session.machine().exec(["sh", "-c", script], timeout=300)  # the learner installs Postfix by hand
    assert session.check("install").passed
    assert session.progress()["install"]["passed_now"], "a reset to the start undoes the earlier skip too"

    session.stop()  # as `maillab down` would, behind the notebook's back
    panel.check().result(timeout=60)
    assert "Your lab machine is not running" in panel.result_area.value
    assert not panel.button.disabled
