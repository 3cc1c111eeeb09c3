"""A check in Chinese on a real machine: the learner reads Chinese, the gradebook and its exports
keep the same lab, step and check ids as in English."""
from __future__ import annotations

import csv
import io
import re

import pytest

from classroom import export
from grader import course
from grader.i18n import speaking
from grader.result import Status

from .conftest import maillab

pytestmark = pytest.mark.machine
HAN = re.compile(r"[\u4e00-\u9fff]")


def test_a_check_in_chinese_keeps_the_ids_of_the_gradebook(lab02, tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAB_GRADEBOOK", str(tmp_path / "gradebook.sqlite"))
    lab02._gradebook = None
    lab02.reset()
    english = lab02.check("install")
    with speaking("zh"):
        chinese = lab02.check("install")
    assert (chinese.lab, chinese.step) == (english.lab, english.step) == ("install-postfix", "install")
    assert [(i.name, i.status) for i in chinese.items] == [(i.name, i.status) for i in english.items]
    failed = chinese.items[0]
    assert failed.status is Status.FAIL and HAN.search(failed.title) and HAN.search(failed.hint)
    assert "apt-get update && apt-get install -y postfix" in failed.hint  # commands stay as they are
    assert lab02.progress()["install"]["attempts"] == 2

    book = lab02.gradebook
    rows = list(csv.reader(io.StringIO(export.long_csv(book, "install-postfix"))))
    header, body = rows[0], rows[1:]
    body = [row for row in body if row[header.index("check")]]  # the checks (the reset has a row of its own)
    steps = {row[header.index("step")] for row in body}
    checks = {row[header.index("check")] for row in body}
    assert steps == {"install"} and "postfix_is_installed" in checks
    wide = export.wide_csv(book, [course.find("install-postfix")])
    assert "install-postfix: install" in wide.splitlines()[0]


def test_the_maillab_command_speaks_chinese(lab02):
    lab02.reset()
    done = maillab("check", "install-postfix", "install", env_extra={"MAILLAB_LANG": "zh"})
    assert done.returncode == 1, done.stderr
    assert "未通过" in done.stdout and "postfix_is_installed" not in done.stdout
    assert "apt-get install -y postfix" in done.stdout
    wrong = maillab("check", "no-such-lab", env_extra={"MAILLAB_LANG": "zh"})
    assert wrong.returncode == 2 and HAN.search(wrong.stderr) and "Traceback" not in wrong.stderr
