"""A lab made by `maillab lab new` is real from its first minute: on a real machine a fresh state
FAILS its step with the expected check and hint, and its reference solution makes it PASS."""
import pytest

from classroom.scaffold import new_lab
from classroom.selftest import selftest_lab
from grader import course

pytestmark = pytest.mark.machine


def test_a_new_lab_passes_its_own_selftest(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAB_LABS", str(tmp_path / "labs"))
    (tmp_path / "labs").mkdir()
    lab = course.load(new_lab("scaffold-demo"))
    verdicts = selftest_lab(lab, report=lambda verdict: None)
    assert [(v.step, v.ok) for v in verdicts] == [("mailname", True)], [str(v) for v in verdicts]
