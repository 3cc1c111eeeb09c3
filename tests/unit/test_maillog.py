"""Reading Postfix 3.7 log lines and following one message through them."""
from __future__ import annotations

import pytest

from grader.testing import FakeBackend
from grader.maillog import MailLog, find_verification, follow, parse_line, parse_lines

MID = "maillab-0f1e2d@grader.maillab.test"

# One message from root to root, delivered by local(8) to the mbox (RFC 3339 timestamps).
LOCAL = f"""\
2026-11-30T05:40:01.100000+00:00 mail postfix/pickup[120]: 4Xy1z2AbCd: uid=0 from=<root>
2026-11-30T05:40:01.123456+00:00 mail postfix/cleanup[123]: 4Xy1z2AbCd: message-id=<{MID}>
2026-11-30T05:40:01.130000+00:00 mail postfix/qmgr[121]: 4Xy1z2AbCd: from=<root@mail.example.test>, size=412, nrcpt=1 (queue active)
2026-11-30T05:40:01.160000+00:00 mail postfix/local[130]: 4Xy1z2AbCd: to=<root@mail.example.test>, orig_to=<root>, relay=local, delay=0.03, delays=0.01/0.01/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)
2026-11-30T05:40:01.161000+00:00 mail postfix/qmgr[121]: 4Xy1z2AbCd: removed
"""

# The same machine hands the message to a filter on 127.0.0.1:10025 which queues it again
# (syslog-style timestamps, as maillog_file writes them).
HOP = f"""\
Nov 30 05:40:01 mail postfix/pickup[120]: 4A2B3C4D5E: uid=0 from=<root>
Nov 30 05:40:01 mail postfix/cleanup[123]: 4A2B3C4D5E: message-id=<{MID}>
Nov 30 05:40:01 mail postfix/qmgr[121]: 4A2B3C4D5E: from=<root@mail.example.test>, size=412, nrcpt=1 (queue active)
Nov 30 05:40:01 mail postfix/smtpd[140]: connect from localhost[127.0.0.1]
Nov 30 05:40:01 mail postfix/smtpd[140]: 6F7A8B9C0D: client=localhost[127.0.0.1]
Nov 30 05:40:01 mail postfix/cleanup[123]: 6F7A8B9C0D: message-id=<{MID}>
Nov 30 05:40:01 mail postfix/smtp[131]: 4A2B3C4D5E: to=<alice@mail.example.test>, relay=127.0.0.1[127.0.0.1]:10025, delay=0.1, delays=0.01/0.01/0.03/0.05, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 6F7A8B9C0D)
Nov 30 05:40:01 mail postfix/qmgr[121]: 4A2B3C4D5E: removed
Nov 30 05:40:01 mail postfix/qmgr[121]: 6F7A8B9C0D: from=<root@mail.example.test>, size=600, nrcpt=1 (queue active)
Nov 30 05:40:01 mail postfix/local[132]: 6F7A8B9C0D: to=<alice@mail.example.test>, relay=local, delay=0.01, delays=0/0/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)
Nov 30 05:40:01 mail postfix/qmgr[121]: 6F7A8B9C0D: removed
"""


def test_both_timestamp_styles_parse():
    iso = parse_line(LOCAL.splitlines()[3])
    bsd = parse_line(HOP.splitlines()[-2])
    assert (iso.timestamp, iso.host, iso.program, iso.pid, iso.queue_id) == (
        "2026-11-30T05:40:01.160000+00:00", "mail", "postfix/local", 130, "4Xy1z2AbCd")
    assert (bsd.timestamp, bsd.program, bsd.pid, bsd.queue_id) == (
        "Nov 30 05:40:01", "postfix/local", 132, "6F7A8B9C0D")
    assert iso.fields["orig_to"] == "root" and iso.fields["dsn"] == "2.0.0"
    assert parse_line("Dec  1 00:00:01 mail postfix/master[1]: daemon started") .program == "postfix/master"


def test_words_before_a_colon_are_not_taken_for_queue_ids():
    for text in ("warning: hostname mail does not resolve to address 192.0.2.1",
                 "NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <x@y.test>: Relay access denied",
                 "statistics: max connection rate 1/60s for (smtp:192.0.2.9) at Nov 30 05:40:01"):
        line = parse_line(f"Nov 30 05:40:01 mail postfix/smtpd[9]: {text}")
        assert line.queue_id is None and line.text == text
    assert parse_line("not a log line at all") is None


def test_following_a_locally_delivered_message():
    delivery = follow(parse_lines(LOCAL), MID, ["root"])
    assert delivery.queue_id == "4Xy1z2AbCd"
    assert delivery.complete and delivery.delivered
    assert delivery.status("root") == "sent"
    assert delivery.relay("root") == "local"
    assert delivery.dsn("root") == "2.0.0"
    assert len(delivery.lines) == 5
    assert delivery.summary() == (
        "queue id 4Xy1z2AbCd: root: to=<root@mail.example.test>, orig_to=<root>, "
        "status=sent (delivered to mailbox), relay=local, dsn=2.0.0")


def test_following_a_message_across_a_queued_as_hop():
    delivery = follow(parse_lines(HOP), f"<{MID}>", ["alice@mail.example.test"])
    assert delivery.queue_ids == ["4A2B3C4D5E", "6F7A8B9C0D"]
    assert delivery.complete
    final = delivery.result_for("alice@mail.example.test")
    assert (final.queue_id, final.relay, final.reason) == ("6F7A8B9C0D", "local", "delivered to mailbox")
    assert delivery.next_hops == []
    assert "4A2B3C4D5E -> 6F7A8B9C0D" in delivery.summary()


def test_a_loopback_hop_not_yet_logged_keeps_the_delivery_open():
    """Is the message still on its way while the second queue id has not appeared?"""
    first_hop_only = "\n".join(l for l in HOP.splitlines() if "6F7A8B9C0D: " not in l)
    delivery = follow(parse_lines(first_hop_only), MID, ["alice@mail.example.test"])
    assert delivery.queue_ids == ["4A2B3C4D5E"]
    assert not delivery.complete
    assert delivery.status("alice@mail.example.test") is None


def test_a_hop_to_another_machine_is_final_here_and_named_as_next_hop():
    lines = parse_lines(f"""\
2026-11-30T05:40:01.123456+00:00 mail postfix/cleanup[123]: 4Xy1z2AbCd: message-id=<{MID}>
2026-11-30T05:40:01.200000+00:00 mail postfix/smtp[131]: 4Xy1z2AbCd: to=<bob@example.test>, relay=mx1.example.test[192.0.2.25]:25, delay=0.2, delays=0.01/0.01/0.1/0.08, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9QrStVwXyZ)
""")
    delivery = follow(lines, MID, ["bob@example.test"])
    assert delivery.complete and delivery.delivered
    assert delivery.next_hops == ["9QrStVwXyZ"]
    assert delivery.relay("bob@example.test") == "mx1.example.test[192.0.2.25]:25"


def test_an_alias_expanding_to_two_users_and_a_bounce():
    lines = parse_lines(f"""\
Nov 30 05:40:01 mail postfix/cleanup[123]: 4A2B3C4D5E: message-id=<{MID}>
Nov 30 05:40:01 mail postfix/local[130]: 4A2B3C4D5E: to=<alice@mail.example.test>, orig_to=<sales@mail.example.test>, relay=local, delay=0.03, delays=0.01/0.01/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)
Nov 30 05:40:01 mail postfix/local[130]: 4A2B3C4D5E: to=<bob@mail.example.test>, orig_to=<sales@mail.example.test>, relay=local, delay=0.03, delays=0.01/0.01/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)
Nov 30 05:40:01 mail postfix/local[131]: 4A2B3C4D5E: to=<nobody@mail.example.test>, relay=local, delay=0.03, delays=0.01/0.01/0/0.01, dsn=5.1.1, status=bounced (unknown user: "nobody")
Nov 30 05:40:01 mail postfix/bounce[133]: 4A2B3C4D5E: sender non-delivery notification: 7B8C9D0E1F
""")
    delivery = follow(lines, MID, ["sales@mail.example.test", "nobody@mail.example.test"])
    assert delivery.complete and not delivery.delivered
    assert sorted(o.to for o in delivery.outcomes_for("sales@mail.example.test")) == [
        "alice@mail.example.test", "bob@mail.example.test"]
    assert delivery.statuses == {"sales@mail.example.test": "sent",
                                 "nobody@mail.example.test": "bounced"}
    assert delivery.dsn("nobody@mail.example.test") == "5.1.1"
    assert 'unknown user: "nobody"' in delivery.summary()


def test_deferred_is_not_final():
    lines = parse_lines(f"""\
Nov 30 05:40:01 mail postfix/cleanup[123]: 4A2B3C4D5E: message-id=<{MID}>
Nov 30 05:40:06 mail postfix/smtp[131]: 4A2B3C4D5E: to=<bob@example.test>, relay=none, delay=5, delays=0/0/5/0, dsn=4.4.1, status=deferred (connect to mx1.example.test[192.0.2.25]:25: Connection timed out)
""")
    delivery = follow(lines, MID, ["bob@example.test"])
    assert not delivery.complete
    assert delivery.status("bob@example.test") == "deferred"
    assert "Connection timed out" in delivery.summary()


def test_a_message_never_logged():
    delivery = follow(parse_lines(LOCAL), "maillab-other@grader.maillab.test", ["root"])
    assert delivery.queue_ids == [] and not delivery.complete
    assert "never appeared in /var/log/mail.log" in delivery.summary()


def test_verification_lines_are_matched_by_address():
    lines = parse_lines("""\
Nov 30 05:41:00 mail postfix/local[150]: 3C4D5E6F7A: to=<bob@mail.example.test>, relay=local, delay=0, delays=0/0/0/0, dsn=2.0.0, status=deliverable (delivers to mailbox)
Nov 30 05:41:00 mail postfix/local[150]: 4D5E6F7A8B: to=<nobody@mail.example.test>, orig_to=<nobody>, relay=local, delay=0, delays=0/0/0/0, dsn=5.1.1, status=undeliverable (unknown user: "nobody")
""")
    assert find_verification(lines, "nobody").status == "undeliverable"
    assert find_verification(lines, "bob@mail.example.test").reason == "delivers to mailbox"
    assert find_verification(lines, "carol") is None
    assert find_verification(lines[:1], "renamed@elsewhere.test").to == "bob@mail.example.test"


def test_maillog_reads_only_what_came_after_the_mark():
    fake = FakeBackend({"/var/log/mail.log": LOCAL})
    log = MailLog(fake)
    mark = log.mark()
    fake.append("/var/log/mail.log", HOP)
    fake.append("/var/log/mail.log", "Nov 30 05:40:02 mail postfix/qmgr[121]: 1A2B3C4D5E: rem")
    lines = log.lines(mark)
    assert [l.queue_id for l in lines][:2] == ["4A2B3C4D5E", "4A2B3C4D5E"]
    assert all("4Xy1z2AbCd" not in l.raw for l in lines)
    # the last line has no newline yet: it is being written and is left for the next read
    assert not any(l.text == "rem" for l in lines)
    assert log.queue_ids(MID, since=mark) == ["4A2B3C4D5E", "6F7A8B9C0D"]


def test_maillog_after_rotation_reads_from_the_start():
    fake = FakeBackend({"/var/log/mail.log": LOCAL + HOP})
    log = MailLog(fake)
    mark = log.mark()
    fake.add_file("/var/log/mail.log", LOCAL)
    assert log.follow(MID, ["root"], since=mark).delivered


def test_a_big_log_is_read_from_its_tail_without_a_broken_first_line():
    fake = FakeBackend({"/var/log/mail.log": LOCAL * 50})
    log = MailLog(fake, limit=1000)
    lines = log.lines()
    assert 0 < len(lines) < 10
    assert all(l.raw.startswith("2026-11-30T") for l in lines)
    assert log.text(None).endswith("removed\n")


def test_missing_log_reads_as_empty():
    log = MailLog(FakeBackend(), "/var/log/nothing.log")
    assert log.mark() == 0 and log.lines() == []
