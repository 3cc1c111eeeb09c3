"""The mail-flow picture of a real message on a real lab machine, drawn in the notebook."""
from __future__ import annotations

import pytest

from real_machines import real_lab
from classroom.notebook import NotebookLab

pytestmark = pytest.mark.machine

LEARNER = "pytest-mailflow"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    with real_lab(tmp_path_factory, LEARNER, "local-delivery") as lab:  # Postfix installed and running, nothing sent yet
        yield lab


def send(session, script: str) -> None:
    done = session.machine().exec(["/bin/bash", "-c", script], timeout=30)
    assert done.returncode == 0, done.err


def drawn(lab: NotebookLab, monkeypatch, *args) -> str:
    shown = []
    monkeypatch.setattr("classroom.notebook.notebook_lab.display", lambda obj: shown.append(obj.data))
    lab.mailflow(*args)
    (picture,) = shown
    return picture


def test_a_local_delivery_names_every_hop(session, monkeypatch):
    lab = NotebookLab(session)
    lab.start()
    assert "Send one" in drawn(lab, monkeypatch)  # nothing sent yet: it says what to do

    send(session, "printf 'Message-Id: <flow-1@example.test>\\nSubject: hi\\n\\nhello\\n' | sendmail root"
                  " && for i in $(seq 50); do grep -q 'status=sent' /var/log/mail.log && break; sleep 0.1; done")
    picture = drawn(lab, monkeypatch)  # "the last one"
    assert "The journey of message &lt;flow-1@example.test&gt;" in picture
    words = picture.split("<summary>The journey in words</summary>")[1]
    for hop in ("sendmail on mail", "pickup on mail", "cleanup on mail", "qmgr on mail", "local on mail",
                "mailbox on mail"):
        assert hop in words, hop
    assert "/var/mail/root: delivered to mailbox" in words
    assert "delivered</text>" in picture and "maillab-icon-sent" in picture  # a word and a drawn icon, not colour alone


def test_a_message_chosen_by_id_and_an_unknown_id(session, monkeypatch):
    lab = NotebookLab(session)
    lab.start()
    send(session, "printf 'Message-Id: <flow-2@example.test>\\n\\nx\\n' | sendmail nobody-here"
                  " && for i in $(seq 50); do grep -q 'status=bounced' /var/log/mail.log && break; sleep 0.1; done")
    bounced = drawn(lab, monkeypatch, "<flow-2@example.test>")
    assert "bounced</text>" in bounced and "maillab-icon-bounced" in bounced
    assert "No message with Message-Id &lt;nope@example.test&gt;" in drawn(lab, monkeypatch, "nope@example.test")


@pytest.fixture(scope="module")
def after_lab02(tmp_path_factory):
    """basic-config starts from install-postfix's reference solutions, which sent root "My first mail"."""
    from classroom.session import open_session

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MAILLAB_GRADEBOOK", str(tmp_path_factory.mktemp("gradebook") / "gradebook.sqlite"))
        lab = open_session("basic-config", LEARNER)
        lab.reset()
        try:
            yield lab
        finally:
            for machine in lab.machines():
                machine.destroy()


def test_the_starting_states_message_is_not_the_last_one_you_sent(after_lab02, monkeypatch):
    lab = NotebookLab(after_lab02)
    lab.start()
    made = after_lab02.machine().exec(["grep", "-c", "message-id=", "/var/log/mail.log"], timeout=10)
    assert int(made.out.strip() or 0) >= 1  # the starting state's log holds lab 02's message
    picture = drawn(lab, monkeypatch)
    assert "since this lab started" in picture and "journey of message" not in picture
    send(after_lab02, "printf 'Message-Id: <mine@example.test>\\n\\nx\\n' | sendmail root"
                      " && for i in $(seq 50); do grep -q 'mine@example.test' /var/log/mail.log && break; sleep 0.1; done")
    assert "The journey of message &lt;mine@example.test&gt;" in drawn(lab, monkeypatch)
