"""The mail-flow picture: hops read from Postfix 3.7 log lines, and the SVG drawn from them."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from grader.mailflow import BOX_W, PAD, NoMessage, journey_html, journey_svg, text_width, trace, wrap

# Seen on a lab machine: root sends with sendmail, then a message to an unknown user bounces,
# and the grader's own tagged message comes last.
LOCAL = """\
Nov 30 06:53:38 mail postfix/master[355]: daemon started -- version 3.7.11, configuration /etc/postfix
Nov 30 06:53:38 mail postfix/pickup[356]: 91BE41C61F6: uid=0 from=<root>
Nov 30 06:53:38 mail postfix/cleanup[363]: 91BE41C61F6: message-id=<hello-1@example.test>
Nov 30 06:53:38 mail postfix/qmgr[357]: 91BE41C61F6: from=<root@example.test>, size=248, nrcpt=1 (queue active)
Nov 30 06:53:38 mail postfix/local[366]: 91BE41C61F6: to=<root@example.test>, orig_to=<root>, relay=local, delay=0.02, delays=0.01/0.01/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
Nov 30 06:53:38 mail postfix/qmgr[357]: 91BE41C61F6: removed
Nov 30 06:53:39 mail postfix/pickup[356]: A1E731C709E: uid=0 from=<root>
Nov 30 06:53:39 mail postfix/cleanup[363]: A1E731C709E: message-id=<20261130065339.A1E731C709E@mail.example.test>
Nov 30 06:53:39 mail postfix/qmgr[357]: A1E731C709E: from=<root@example.test>, size=269, nrcpt=1 (queue active)
Nov 30 06:53:39 mail postfix/local[366]: A1E731C709E: to=<nosuchuser@example.test>, orig_to=<nosuchuser>, relay=local, delay=0.05, delays=0.03/0/0/0.03, dsn=5.1.1, status=bounced (unknown user: "nosuchuser")
Nov 30 06:53:39 mail postfix/cleanup[363]: AEE421C70AC: message-id=<20261130065339.AEE421C70AC@mail.example.test>
Nov 30 06:53:39 mail postfix/qmgr[357]: AEE421C70AC: from=<>, size=2198, nrcpt=1 (queue active)
Nov 30 06:53:39 mail postfix/bounce[371]: A1E731C709E: sender non-delivery notification: AEE421C70AC
Nov 30 06:53:39 mail postfix/local[366]: AEE421C70AC: to=<root@example.test>, relay=local, delay=0.02, delays=0.02/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
Nov 30 06:53:39 mail postfix/qmgr[357]: A1E731C709E: removed
Nov 30 06:53:39 mail postfix/qmgr[357]: AEE421C70AC: removed
Nov 30 06:53:40 mail postfix/pickup[356]: B2C3D4E5F60: uid=0 from=<root>
Nov 30 06:53:40 mail postfix/cleanup[363]: B2C3D4E5F60: message-id=<maillab-0f1e2d3c@grader.maillab.test>
Nov 30 06:53:40 mail postfix/qmgr[357]: B2C3D4E5F60: from=<root@example.test>, size=400, nrcpt=1 (queue active)
Nov 30 06:53:40 mail postfix/local[366]: B2C3D4E5F60: to=<root@example.test>, orig_to=<root>, relay=local, delay=0.02, delays=0.01/0.01/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
"""

# Two hops: the learner's server relays to the MX of example.net, which hands it to Dovecot (LMTP).
SENDER = """\
Nov 30 07:10:01 mail postfix/pickup[401]: 3F1A21C61F6: uid=0 from=<root>
Nov 30 07:10:01 mail postfix/cleanup[402]: 3F1A21C61F6: message-id=<first-remote@example.test>
Nov 30 07:10:01 mail postfix/qmgr[403]: 3F1A21C61F6: from=<root@example.test>, size=321, nrcpt=1 (queue active)
Nov 30 07:10:01 mail postfix/smtp[404]: 3F1A21C61F6: to=<alice@example.net>, relay=mx1.example.net[198.51.100.10]:25, delay=0.12, delays=0.01/0.01/0.05/0.05, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 8C2B41E0A11)
Nov 30 07:10:01 mail postfix/qmgr[403]: 3F1A21C61F6: removed
"""
MX = """\
Nov 30 07:10:01 mx1 postfix/smtpd[501]: connect from mail.example.test[192.0.2.10]
Nov 30 07:10:01 mx1 postfix/smtpd[501]: 8C2B41E0A11: client=mail.example.test[192.0.2.10]
Nov 30 07:10:01 mx1 postfix/cleanup[502]: 8C2B41E0A11: message-id=<first-remote@example.test>
Nov 30 07:10:01 mx1 postfix/qmgr[503]: 8C2B41E0A11: from=<root@example.test>, size=512, nrcpt=1 (queue active)
Nov 30 07:10:01 mx1 postfix/smtpd[501]: disconnect from mail.example.test[192.0.2.10] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
Nov 30 07:10:01 mx1 postfix/lmtp[504]: 8C2B41E0A11: to=<alice@example.net>, relay=mx1.example.net[private/dovecot-lmtp], delay=0.03, delays=0.01/0.01/0/0.01, dsn=2.0.0, status=sent (250 2.0.0 <alice@example.net> kFq1Ni7tZ2U2AgAAxH0T2A Saved)
Nov 30 07:10:01 mx1 postfix/qmgr[503]: 8C2B41E0A11: removed
"""
DEFERRED = """\
Nov 30 07:20:01 mail postfix/pickup[401]: 5D6E7F8A9B0: uid=0 from=<root>
Nov 30 07:20:01 mail postfix/cleanup[402]: 5D6E7F8A9B0: message-id=<waiting@example.test>
Nov 30 07:20:01 mail postfix/qmgr[403]: 5D6E7F8A9B0: from=<root@example.test>, size=300, nrcpt=1 (queue active)
Nov 30 07:20:06 mail postfix/smtp[404]: 5D6E7F8A9B0: to=<bob@example.org>, relay=none, delay=5.1, delays=0.01/0.02/5.1/0, dsn=4.4.1, status=deferred (connect to mx.example.org[203.0.113.5]:25: Connection timed out)
"""


def test_the_last_message_a_person_sent_is_drawn_hop_by_hop():
    journey = trace([("mail", LOCAL)])
    # Not the grader's tagged message, not the bounce Postfix wrote: the learner's own last one.
    assert journey.message_id == "20261130065339.A1E731C709E@mail.example.test"
    assert journey.stage_names() == ["sendmail", "pickup", "cleanup", "qmgr", "local", "not delivered"]
    destination = journey.first.deliveries[0].destination
    assert destination.status == "bounced" and 'unknown user: "nosuchuser"' in destination.note


def test_a_message_chosen_by_its_message_id_reaches_roots_mailbox():
    journey = trace([("mail", LOCAL)], "<hello-1@example.test>")
    assert journey.stage_names() == ["sendmail", "pickup", "cleanup", "qmgr", "local", "mailbox"]
    hop = journey.first
    assert hop.host == "mail" and hop.queue_id == "91BE41C61F6"
    assert hop.intake[0].note == "run by uid 0" and hop.intake[1].note == "from=<root>"
    qmgr = hop.intake[-1]
    assert qmgr.delay == "0.01 s" and "size=248" in qmgr.note
    mailbox = hop.deliveries[0].destination
    assert mailbox.status == "sent" and mailbox.note.startswith("/var/mail/root")


def test_a_remote_delivery_is_followed_into_the_mx_log():
    journey = trace([("mail", SENDER), ("mx1", MX)])
    assert journey.stage_names() == ["sendmail", "pickup", "cleanup", "qmgr", "smtp",
                                     "smtpd", "cleanup", "qmgr", "lmtp", "mailbox (LMTP)"]
    first, second = journey.hops()
    assert (first.host, first.queue_id) == ("mail", "3F1A21C61F6")
    assert (second.host, second.queue_id) == ("mx1", "8C2B41E0A11")
    smtp = first.deliveries[0]
    assert smtp.agent.note == "to=<alice@example.net>, relay=mx1.example.net[198.51.100.10]:25"
    assert smtp.destination.queue_id == "8C2B41E0A11" and smtp.destination.delay == "0.1 s"
    assert second.intake[0].name == "smtpd" and second.intake[0].note == "client=mail.example.test[192.0.2.10]"
    assert second.deliveries[0].destination.status == "sent"


def test_without_the_mx_log_the_picture_ends_at_the_remote_mx():
    journey = trace([("mail", SENDER)])
    assert journey.stage_names()[-2:] == ["smtp", "remote MX"]
    remote = journey.first.deliveries[0].destination
    assert remote.host == "mx1.example.net" and remote.queue_id == "8C2B41E0A11"


def test_a_deferred_message_says_it_waits():
    journey = trace([("mail", DEFERRED)])
    destination = journey.first.deliveries[0].destination
    assert destination.status == "deferred" and "Connection timed out" in destination.note


def test_nothing_to_draw_says_what_to_do():
    with pytest.raises(NoMessage, match="Send one"):
        trace([("mail", "Nov 30 06:53:38 mail postfix/master[355]: daemon started\n")])
    with pytest.raises(NoMessage, match="No message with Message-Id <nope@x.test>.*<maillab-0f1e2d3c@grader.maillab.test>"):
        trace([("mail", LOCAL)], "nope@x.test")


def test_the_svg_is_well_formed_and_says_everything_in_text_too():
    journey = trace([("mail", SENDER), ("mx1", MX)])
    svg = journey_svg(journey)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img"
    assert root.find(f"{ns}title").text == "The journey of message <first-remote@example.test>"
    words = " ".join(t.text or "" for t in root.iter(f"{ns}text"))
    for seen in ("pickup", "smtpd", "lmtp", "on mx1", "queue id 3F1A21C61F6", "queued as 8C2B41E0A11",
                 "delivered"):
        assert seen in words
    assert svg.count('class="maillab-icon maillab-icon-sent"') == 1  # drawn, not a glyph a font may lack
    assert len(root.findall(f"{ns}g")) == 10  # one box per stage
    page = journey_html(journey)
    assert "<summary>The journey in words</summary>" in page
    assert "lmtp on mx1 (queue id 8C2B41E0A11): to=&lt;alice@example.net&gt;" in page


def test_log_text_is_never_markup():
    evil = SENDER.replace("first-remote@example.test", "<script>x</script>@e.test")
    page = journey_html(trace([("mail", evil)]))
    assert "<script>" not in page
    ET.fromstring(journey_svg(trace([("mail", evil)])))


# Lab 08: the outside client hands a message to the backup MX mail2 while mail1 is down; mail2 defers
# it, waits, and after `postqueue -f` hands it to mail1, whose local agent delivers it.
BACKUP = """\
Dec  5 19:01:10 mail2 postfix/smtpd[880]: connect from client.outside.test[192.0.2.99]
Dec  5 19:01:10 mail2 postfix/smtpd[880]: 4B2C91E0A01: client=client.outside.test[192.0.2.99]
Dec  5 19:01:10 mail2 postfix/cleanup[881]: 4B2C91E0A01: message-id=<while-down@outside.test>
Dec  5 19:01:10 mail2 postfix/qmgr[700]: 4B2C91E0A01: from=<carol@outside.test>, size=420, nrcpt=1 (queue active)
Dec  5 19:01:10 mail2 postfix/smtp[882]: 4B2C91E0A01: to=<alice@example.test>, relay=none, delay=0.05, delays=0.01/0.01/0.03/0, dsn=4.4.1, status=deferred (connect to mail1.example.test[192.0.2.10]:25: Connection refused)
Dec  5 19:06:14 mail2 postfix/qmgr[700]: 4B2C91E0A01: from=<carol@outside.test>, size=420, nrcpt=1 (queue active)
Dec  5 19:06:14 mail2 postfix/smtp[890]: 4B2C91E0A01: to=<alice@example.test>, relay=mail1.example.test[192.0.2.10]:25, delay=304, delays=304/0.01/0.02/0.03, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 7D1E21C6A02)
Dec  5 19:06:14 mail2 postfix/qmgr[700]: 4B2C91E0A01: removed
"""
PRIMARY = """\
Dec  5 19:06:14 mail1 postfix/smtpd[901]: 7D1E21C6A02: client=mail2.example.test[192.0.2.20]
Dec  5 19:06:14 mail1 postfix/cleanup[902]: 7D1E21C6A02: message-id=<while-down@outside.test>
Dec  5 19:06:14 mail1 postfix/qmgr[903]: 7D1E21C6A02: from=<carol@outside.test>, size=650, nrcpt=1 (queue active)
Dec  5 19:06:14 mail1 postfix/local[904]: 7D1E21C6A02: to=<alice@example.test>, relay=local, delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)
"""
NS = "{http://www.w3.org/2000/svg}"


def _boxes_and_labels(svg: str):
    """The boxes (x, y, w, h) and the arrows' labels (text, its box) of a picture, as drawn."""
    root = ET.fromstring(svg)
    boxes = [tuple(float(r.get(k)) for k in ("x", "y", "width", "height"))
             for g in root.iter(f"{NS}g") if "maillab-stage" in (g.get("class") or "")
             for r in g.findall(f"{NS}rect")]
    labels = []
    for t in root.iter(f"{NS}text"):
        if t.get("class") == "maillab-flow-label":
            w, size = text_width(t.text, float(t.get("font-size"))), float(t.get("font-size"))
            labels.append((t.text, (float(t.get("x")) - w / 2, float(t.get("y")) - size, w, size * 1.3)))
    return root, boxes, labels


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_the_deferred_wait_is_drawn_and_the_retry_follows_it():
    journey = trace([("mail2", BACKUP), ("mail1", PRIMARY)])
    first, retry = journey.first.deliveries
    assert first.destination.status == "deferred" and first.waiting is None  # it was tried again
    assert retry.after is first and str(retry.waited) == "waited 5 min 4 s, then tried again"
    assert retry.next_hop is not None and retry.next_hop.host == "mail1"
    svg = journey_svg(journey)
    root = ET.fromstring(svg)
    waits = [g for g in root.iter(f"{NS}g") if "maillab-wait" in (g.get("class") or "")]
    assert len(waits) == 1
    words = " ".join(t.text or "" for t in waits[0].iter(f"{NS}text"))
    assert "deferred queue" in words and "waited 5 min 4 s" in words
    assert 'class="maillab-icon maillab-icon-deferred"' in svg  # a drawn clock, not the hourglass glyph
    sentences = journey.sentences()
    assert any(s.startswith("deferred queue on mail2") and "waited 5 min 4 s" in s for s in sentences)
    assert sentences[-1].startswith("mailbox on mail1")


def test_a_message_still_deferred_is_drawn_waiting():
    journey = trace([("mail2", BACKUP.split("Dec  5 19:06:14")[0])])
    (delivery,) = journey.first.deliveries
    assert str(delivery.waiting).startswith("waiting since 19:01:10")
    svg = journey_svg(journey)
    assert svg.count("maillab-wait") == 1 and "postqueue -f" in svg


def test_two_pictures_on_one_page_have_ids_of_their_own():
    svgs = [journey_svg(trace([("mail2", BACKUP), ("mail1", PRIMARY)])) for _ in range(2)]
    ids = [re.findall(r'\bid="([^"]+)"', svg) for svg in svgs]
    assert ids[0] and not set(ids[0]) & set(ids[1])
    for svg, own in zip(svgs, ids):
        assert len(own) == len(set(own))
        used = re.findall(r"url\(#([^)]+)\)", svg) + ET.fromstring(svg).get("aria-labelledby").split()
        assert used and set(used) <= set(own)  # every arrowhead and label names its own picture's ids


def test_labels_never_overprint_at_a_fork_or_anywhere():
    forked = SENDER.replace(
        "Nov 30 07:10:01 mail postfix/qmgr[403]: 3F1A21C61F6: removed",
        "Nov 30 07:10:02 mail postfix/smtp[404]: 3F1A21C61F6: to=<bob@example.org>, relay=none, delay=0.2, "
        "delays=0.01/0.02/0.1/0, dsn=4.4.1, status=deferred (connect to mx.example.org[203.0.113.5]:25: "
        "Connection refused)")
    for logs in ([("mail", forked), ("mx1", MX)], [("mail2", BACKUP), ("mail1", PRIMARY)], [("mail", LOCAL)],
                 [("mail", DEFERRED)]):
        svg = journey_svg(trace(logs))
        _root, boxes, labels = _boxes_and_labels(svg)
        assert labels
        for i, (text, box) in enumerate(labels):
            for other_text, other in labels[i + 1:]:
                assert not _overlap(box, other), (text, other_text)
            for rect in boxes:
                assert not _overlap(box, rect), (text, rect)
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert not _overlap(a, b)


def test_no_text_is_cut_it_is_wrapped_inside_its_box():
    svg = journey_svg(trace([("mail2", BACKUP), ("mail1", PRIMARY)]))
    root = ET.fromstring(svg)
    assert "\u2026" not in svg
    reason = "connect to mail1.example.test[192.0.2.10]:25: Connection refused"
    for g in root.iter(f"{NS}g"):
        if "maillab-stage" not in (g.get("class") or ""):
            continue
        rect = g.find(f"{NS}rect")
        x, y, w, h = (float(rect.get(k)) for k in ("x", "y", "width", "height"))
        for t in g.findall(f"{NS}text"):
            size = float(t.get("font-size"))
            right = float(t.get("x")) + text_width(t.text, size, mono=t.get("font-family") == "monospace")
            assert right <= x + w - PAD + 0.01, t.text
            assert y < float(t.get("y")) <= y + h - PAD / 2, t.text
    joined = "".join(t.text for t in root.iter(f"{NS}text"))
    assert reason.replace(" ", "") in joined.replace(" ", "")  # the whole reason, over several lines


def test_wrap_breaks_long_words_and_keeps_every_character():
    text = "to=<averyveryverylongaddressthatneverends@example.test>, relay=local"
    lines = wrap(text, 11, BOX_W - 2 * PAD, mono=True)
    assert len(lines) > 1 and all(text_width(line, 11, mono=True) <= BOX_W - 2 * PAD for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert wrap("\u90ae\u4ef6" * 20, 12, 100) and all(text_width(x, 12) <= 100 for x in wrap("\u90ae\u4ef6" * 20, 12, 100))


def test_the_chinese_picture_fits_its_boxes_too():
    from grader.i18n import speaking

    with speaking("zh"):
        svg = journey_svg(trace([("mail2", BACKUP), ("mail1", PRIMARY)]))
    root = ET.fromstring(svg)
    assert "\u5ef6\u8fdf\u961f\u5217" in svg  # 延迟队列: the deferred queue, in Chinese
    for g in root.iter(f"{NS}g"):
        if "maillab-stage" in (g.get("class") or ""):
            rect = g.find(f"{NS}rect")
            right_edge = float(rect.get("x")) + float(rect.get("width")) - PAD
            for t in g.findall(f"{NS}text"):
                mono = t.get("font-family") == "monospace"
                assert float(t.get("x")) + text_width(t.text, float(t.get("font-size")), mono=mono) <= right_edge + 0.01


def test_the_starting_states_messages_are_not_the_learners(tmp_path):
    """Lab 08's machines start from layers an earlier lab's reference solutions made: their log
    already holds that lab's messages (host "mail"). Only what came after the lab's start counts."""
    from grader.mailflow import since_start, starting_log

    old = LOCAL.split("Nov 30 06:53:40")[0]  # the starting state's own messages (hello-1, a bounce)
    layer, image = tmp_path / "layer", tmp_path / "image"
    (layer / "var/log").mkdir(parents=True)
    (image / "var/log").mkdir(parents=True)
    (layer / "var/log/mail.log").write_text(old)
    (image / "var/log/mail.log").write_text("Nov 29 00:00:00 base postfix/master[1]: daemon started\n")
    starting = starting_log([str(layer), str(image)], "/var/log/mail.log")
    assert starting == old  # the topmost layer that has the file
    assert starting_log([str(tmp_path / "none")], "/var/log/mail.log") == ""

    with pytest.raises(NoMessage, match="since this lab started"):
        trace([("mail2", since_start(old, starting))])  # nothing sent since: hello-1 is not drawn
    now = old + BACKUP
    assert trace([("mail2", since_start(now, starting))]).message_id == "while-down@outside.test"
    # Read from a tail (or edited): the starting state's lines are left out one by one.
    tail = now[now.index("\n", 100) + 1:]
    assert "hello-1" not in since_start(tail, starting) and "while-down" in since_start(tail, starting)
    # A message id asked for by name from the starting state is not this lab's either.
    with pytest.raises(NoMessage):
        trace([("mail2", since_start(now, starting))], "hello-1@example.test")


def test_lab_mail_logs_reads_every_machine_since_its_start_the_learners_first(tmp_path):
    """What lab.mailflow reads: each machine's log less its starting state's, the attached machine
    first; a machine whose log cannot be read (stopped) gives nothing rather than an error."""
    from types import SimpleNamespace

    from grader.mailflow import lab_mail_logs
    from grader.testing import FakeBackend, fake_host

    old = LOCAL.split("Nov 30 06:53:40")[0]
    layer = tmp_path / "layer"
    (layer / "var/log").mkdir(parents=True)
    (layer / "var/log/mail.log").write_text(old)
    hosts = {"mail2": fake_host(FakeBackend({"/var/log/mail.log": old + BACKUP})),
             "mail1": fake_host(FakeBackend({"/var/log/mail.log": PRIMARY}))}

    class Broken(FakeBackend):
        def read_bytes(self, *args, **kwargs):
            raise OSError(5, "the machine is stopped")

    lab = SimpleNamespace(machines=[SimpleNamespace(name="mail1"), SimpleNamespace(name="mail2")])
    session = SimpleNamespace(lab=lab, host=lambda name: hosts[name],
                              machine=lambda name: SimpleNamespace(spec=SimpleNamespace(lowers=[str(layer)])))
    logs = lab_mail_logs(session, "mail2")
    assert [name for name, _ in logs] == ["mail2", "mail1"]
    assert logs[0][1] == BACKUP and logs[1][1] == PRIMARY  # PRIMARY is not in the layer's log: all of it
    assert trace(logs).message_id == "while-down@outside.test"
    hosts["mail1"] = fake_host(Broken({"/var/log/mail.log": PRIMARY}))
    assert lab_mail_logs(session, "mail2")[1] == ("mail1", "")
