"""Finding delivered messages in mbox files and Maildirs."""
from __future__ import annotations

from grader.testing import FakeBackend
from grader.mailbox import Mailbox, Maildir, split_mbox

MBOX = b"""\
From root@mail.example.test  Mon Nov 30 05:40:01 2026
Return-Path: <root@mail.example.test>
Message-Id: <first@grader.maillab.test>
Subject: one

Hello
>From the quoted line.

From root@mail.example.test  Mon Nov 30 05:41:01 2026
Message-Id: <maillab-abc@grader.maillab.test>
X-MailLab-Tag: abc
Subject: two

From here on: a body line after a blank line, but not a "From " separator line
From this line neither.

"""


def test_split_mbox_on_from_lines_after_a_blank_line():
    messages = split_mbox(MBOX)
    assert len(messages) == 2
    assert messages[0].endswith(b">From the quoted line.\n")
    assert b"From this line neither.\n" in messages[1]
    assert split_mbox(b"From a@b  Mon Nov 30 05:40:01 2026\nSubject: x\n\nFrom b@c  Tue Dec  1 00:00:00 2026\nSubject: y\n") == [
        b"Subject: x\n", b"Subject: y\n"]


def test_mbox_messages_and_find_by_message_id():
    fake = FakeBackend({"/var/mail/alice": MBOX})
    box = Mailbox(fake, "/var/mail/alice")
    assert box.exists and len(box) == 2
    found = box.find("<maillab-abc@grader.maillab.test>")
    assert found.subject == "two" and found.tag == "abc"
    assert found.source == "/var/mail/alice (message 2)"
    assert "maillab-abc@grader.maillab.test" in box
    assert box.find("missing@grader.maillab.test") is None
    assert box.find_tag("abc") is found or box.find_tag("abc").message_id == found.message_id
    assert box.messages()[0].body.startswith("Hello\n")
    assert box.describe() == "mbox /var/mail/alice holds 2 messages"


def test_a_big_mbox_is_read_from_its_tail():
    fake = FakeBackend({"/var/mail/alice": MBOX * 20})
    box = Mailbox(fake, "/var/mail/alice", limit=len(MBOX) + 10)
    messages = box.messages()
    # the partial message at the start of the tail is dropped, never half-parsed
    assert 1 <= len(messages) <= 2
    assert all(m.message_id for m in messages)
    assert messages[-1].message_id == "maillab-abc@grader.maillab.test"


def test_missing_mbox():
    box = Mailbox(FakeBackend(), "/var/mail/bob")
    assert not box.exists and box.messages() == [] and len(box) == 0
    assert box.describe() == "/var/mail/bob does not exist"


def test_maildir_reads_new_and_cur():
    fake = FakeBackend()
    fake.add_file("/home/bob/Maildir/new/1764481201.V801I1M1.mail",
                  b"Message-Id: <new@grader.maillab.test>\nSubject: n\n\nbody\n")
    fake.add_file("/home/bob/Maildir/cur/1764481100.V801I2M1.mail:2,S",
                  b"Message-ID: <seen@grader.maillab.test>\nSubject: s\n\nbody\n")
    fake.add_dir("/home/bob/Maildir/tmp")
    box = Maildir(fake, "/home/bob/Maildir/")
    assert box.exists
    assert [m.message_id for m in box.messages()] == ["seen@grader.maillab.test",
                                                      "new@grader.maillab.test"]
    assert box.find("new@grader.maillab.test").source.endswith("/new/1764481201.V801I1M1.mail")
    assert box.describe() == "Maildir /home/bob/Maildir holds 2 messages"


def test_a_directory_without_new_and_cur_is_not_a_maildir():
    fake = FakeBackend()
    fake.add_dir("/home/bob/Maildir")
    box = Maildir(fake, "/home/bob/Maildir")
    assert not box.exists and box.messages() == []
