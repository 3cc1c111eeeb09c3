"""lab.mailflow in a workshop: the grader service reads the learner's own machines' logs since
their lab started, in a reply that fits one protocol message."""
from __future__ import annotations

import json

import pytest

from grader import course
from grader.errors import MailLabError
from workshop import protocol, service


class FakeSession:
    def __init__(self, lab):
        self.lab = lab


@pytest.fixture
def handler(monkeypatch):
    lab = course.find("backup-mx")
    seen = {}

    def logs(session, first):
        seen["first"] = first
        return [(d.name, ("Dec  5 19:01:10 mail2 postfix/smtpd[1]: x\n" * 40000)) for d in session.lab.machines]

    monkeypatch.setattr("grader.mailflow.lab_mail_logs", logs)
    monkeypatch.setattr(service.Handler, "session", staticmethod(lambda learner, request: FakeSession(lab)))
    return object.__new__(service.Handler), seen


def test_the_logs_come_back_whole_lines_within_one_message(handler):
    h, seen = handler
    reply = h.call(service.Learner("ann", 1000), "mail_logs", {"machine": "mail2"})
    assert seen["first"] == "mail2" and [name for name, _ in reply] == ["mail1", "mail2"]
    assert len(json.dumps({"ok": True, "result": reply}).encode()) < protocol.MAX_MESSAGE
    assert all(text.startswith("Dec  5") and text.endswith("x\n") for _, text in reply)


def test_an_unknown_machine_or_a_wrong_type_is_refused(handler):
    h, _ = handler
    with pytest.raises(MailLabError):
        h.call(service.Learner("ann", 1000), "mail_logs", {"machine": "../../etc"})
    with pytest.raises(protocol.ProtocolError):
        h.call(service.Learner("ann", 1000), "mail_logs", {"machine": 3})
