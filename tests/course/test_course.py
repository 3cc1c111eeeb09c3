"""The whole course on real machines: every lab proves its own steps (fresh FAIL, solution PASS,
again PASS), and every lab notebook runs headless from top to bottom."""
from __future__ import annotations

import re

import pytest

from grader import i18n
from grader import course
from classroom.selftest import selftest_course
from sandbox import hermetic

from .conftest import LEARNER
from .notebooks import learner_cells, panel_results, run_notebook

pytestmark = pytest.mark.machine
HAN = re.compile(r"[\u4e00-\u9fff]")
PASS_WORD = "PASS"  # the panel's word for a passed check (its message id)

COURSE = course.all_labs()
# What each notebook's own cells must have shown, besides every step passing.
NOTEBOOK_SHOWS = {
    "install-postfix": ["mail.example.test",                 # `!hostname --fqdn` ran inside the machine
                        "Setting up postfix",                # the learner's own install cell did the work
                        "The journey of message", "mailbox on mail"],  # lab.mailflow()
    "how-mail-works": ["220 mx1.remote.test ESMTP",         # the SMTP conversation reached mx1
                       "250 2.0.0 Ok: queued as",           # ... and mx1 took the message
                       "MX\t20 mx2.remote.test.",          # dig showed both MX records
                       "10 mx1.remote.test\n20 mx2.remote.test"],  # the answer file, lowest first
    "basic-config": ["mydestination = $myhostname, localhost",  # the starting state: not for example.test
                     "mydestination = mail.example.test, localhost.example.test, localhost, example.test",
                     "reload -- version",                   # postfix reload, in the log
                     "Return-Path: <root@example.test>"],   # the proof in root's mailbox
    "local-users": ["alice:x:", "/home/alice:/bin/bash",    # useradd -m -s /bin/bash
                    "Welcome to example.test",              # s-nail read alice's mbox
                    "/var/mail/alice:1"],
    "addresses": ["alice, bob",                              # postalias -q sales
                  "orig_to=<sales>",                         # the list reached both mailboxes
                  "User unknown in virtual alias table",     # an address the shop does not have
                  "from=<alice.liddell@example.test>",       # the rewritten envelope sender
                  "The journey of message"],
    "test-delivery": ["queued as",                           # swaks's SMTP conversation
                      "message-id=<lunch-friday.4711@example.test>",
                      "unknown user",                        # the bounce and its reason
                      "Subject: Quarterly report"],          # released and delivered
    "dns-mx": ["DIFFERENT: the chroot's copy is stale",     # the planted stale copy, seen by the learner
               "status=deliverable",                        # sendmail -bv through the refreshed chroot
               "relay=mx1.remote.test[198.51.100.10]:25",   # the best MX took the message
               "Connection refused", "relay=mx2.remote.test",  # failover when mx1 is stopped
               "Connection timed out",                      # ... and when it is silent
               "Greylisted, try again later", "relay=mx.busy.test"],  # a 4xx, then the retry
    "backup-mx": ["SMTP from client.example (203.0.113.10) to 192.0.2.20",  # lab.outside_smtp
                  "User unknown in relay recipient table",  # the backup refuses unknown recipients
                  "Relay access denied",                    # ... and third domains
                  "could not connect to 192.0.2.10 port 25: connection refused",  # mail1 down
                  "Connection refused",                     # the reason the message waits on mail2
                  "The journey of message", "mailbox on mail1", "Sent from client.example",  # mail2 -> mail1
                  "deferred queue on mail2"],               # ... after its wait on mail2, drawn
    "relay-control": ["250 2.1.5 Ok",                       # the open relay at the start
                      "554 5.7.1 &lt;someone@elsewhere.test&gt;: Relay access denied",  # closed
                      "<** 554 5.7.1 <user@remote.test>: Relay access denied",  # the office, not trusted yet
                      "<-  250 2.0.0 Ok: queued as",        # the office, trusted
                      "relay=mx1.remote.test[198.51.100.10]:25",  # relayed on to the remote MX
                      "@office.example.test"],              # lab.mailflow() of the office's message
    "dovecot": ["Setting up dovecot-lmtpd",                  # the learner's own install cell
                "starting up for imap, lmtp, pop3",          # Dovecot's own log file
                "private/dovecot-lmtp", "Saved",             # Postfix's lmtp hands over to Dovecot
                "+OK Logged in.", "b OK List completed"],    # POP3 and IMAP sessions by hand
    "tls": ["DNS:mail.example.test", "mail.example.test.pem: OK",  # the learner's certificate, verified
            "Verification: OK", "TLS started",                # openssl s_client and swaks over TLS
            "Anonymous TLS connection established from"],
    "troubleshooting": ["Local Address:Port", "status=sent (250 2.0.0"],  # the sockets, seen; mail flows
    "submission": ["Must issue a STARTTLS command first",    # port 587 without TLS, by swaks
                   "235 2.7.0 Authentication successful",    # alice logged in over TLS
                   "250 2.0.0 Ok: queued as"],               # ... and relayed to remote.test
    "spam-defence": ["503 5.5.1 Error: send HELO/EHLO first",  # a bot that never greets
                     "Helo command rejected: Invalid name",    # ... or greets with a bad name
                     "need fully-qualified address", "Domain not found",  # false senders
                     "127.0.0.2",                              # the block list's answer, by dig
                     "blocked using dnsbl.example.net",        # the bot refused
                     "DNSBL rank 2 for [203.0.113.66]"],       # ... by postscreen itself
    "sender-auth": ["v=spf1 mx -all",                          # the learner's record, by dig
                    "SPF fail - not authorized",               # the forged sender refused
                    "dkim=pass (domain=example.test, selector=mail",  # mx1 verified the signature
                    "dmarc=pass"],                             # ... and DMARC passes
}


@pytest.mark.parametrize("lab", COURSE, ids=lambda lab: lab.id)
def test_selftest(lab):
    """Every step proves itself; and across the course run, no packet leaves the lab networks
    (kernel counters in every namespace of them, sandbox/hermetic.py)."""
    with hermetic.watch() as seen:  # its steps side by side, as `maillab selftest` proves them
        verdicts = selftest_course([lab], report=lambda verdict: None, workers=4)
    assert seen.escaped == 0 and not seen.host_veths, seen.summary()
    if lab.network:
        assert seen.lab > 0, "the counters saw the lab's own traffic"
    draws = course.covering_draws(lab) if lab.pool else [()]  # an exam: every fault of its pool proved
    assert [(v.drawn, v.step) for v in verdicts] == [(d, s.id) for d in draws for s in lab.steps]
    assert {f for v in verdicts for f in v.drawn} == set(lab.pool)
    assert all(v.ok for v in verdicts), "\n".join(str(v) for v in verdicts if not v.ok)


@pytest.mark.parametrize("lab", COURSE, ids=lambda lab: lab.id)
def test_notebook_runs_headless_and_every_step_passes(lab, lab_session, tmp_path, monkeypatch):
    session = lab_session(lab.id)
    session.reset()  # fresh machines at the start of the lab
    nb, text = run_notebook(lab.id, tmp_path, monkeypatch, LEARNER)
    assert "Traceback" not in text
    assert [want for want in NOTEBOOK_SHOWS.get(lab.id, []) if want not in text] == []
    shown = panel_results(nb)
    assert len(shown) == len(lab.steps), "one check panel per step"
    failed = [step.id for step, html in zip(lab.steps, shown) if "<strong>PASS</strong>" not in html]
    assert not failed, f"steps not passing after Run All: {failed}"
    progress = session.progress()
    assert all(progress[s.id]["passed_now"] for s in lab.steps)


# What the grader itself writes in a notebook (in the notebook's language), not the machine.
GRADER_WORDS = {"The journey of message", "mailbox on mail", "mailbox on mail1",
                "SMTP from client.example (203.0.113.10) to 192.0.2.20",
                "could not connect to 192.0.2.10 port 25: connection refused", "deferred queue on mail2"}


@pytest.mark.parametrize("lab", COURSE, ids=lambda lab: lab.id)
def test_chinese_notebook_runs_headless_and_every_step_passes(lab, lab_session, tmp_path, monkeypatch):
    """The Chinese edition works like the English one: same machines, same checks, every step
    passes, and the panels speak Chinese; the gradebook holds the same step ids."""
    session = lab_session(lab.id)
    session.reset()
    nb, text = run_notebook(lab.id, tmp_path, monkeypatch, LEARNER, path=lab.notebook_in("zh"))
    assert "Traceback" not in text
    shows = [want for want in NOTEBOOK_SHOWS.get(lab.id, []) if want not in GRADER_WORDS]
    assert [want for want in shows if want not in text] == []
    shown = panel_results(nb)
    assert len(shown) == len(lab.steps), "one check panel per step"
    passed = i18n.tr(PASS_WORD, "zh")
    failed = [step.id for step, html in zip(lab.steps, shown) if f"<strong>{passed}</strong>" not in html]
    assert not failed, f"steps not passing after Run All: {failed}"
    assert all(HAN.search(html) for html in shown), "the panels speak Chinese"
    progress = session.progress()
    assert all(progress[s.id]["passed_now"] for s in lab.steps)


@pytest.mark.parametrize("lab", COURSE, ids=lambda lab: lab.id)
def test_every_hands_on_step_leaves_the_learner_a_place_to_act(lab):
    import nbformat

    for edition in (lab.notebook, lab.notebook_in("zh")):
        places = learner_cells(nbformat.read(edition, as_version=4))
        hands_on = {s.id for s in lab.steps if s.kind == "hands-on"}
        assert hands_on <= set(places), f"{edition.name}: steps without a place to act: {sorted(hands_on - set(places))}"
        assert all((lab.dir / "howto" / f"{step}.md").is_file() for step in hands_on)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("lab", COURSE, ids=lambda lab: lab.id)
def test_running_every_cell_of_an_untouched_notebook_passes_no_hands_on_step(lab, lang, lab_session, tmp_path,
                                                                            monkeypatch):
    """Issue 16: Run All on the notebook as it ships does nothing for the learner: every hands-on
    check cell shows FAIL with its first hint (quizzes and reading steps aside)."""
    session = lab_session(lab.id)
    session.reset()
    nb, text = run_notebook(lab.id, tmp_path, monkeypatch, LEARNER, path=lab.notebook_in(lang), typed=False)
    assert "Traceback" not in text
    shown = dict(zip([s.id for s in lab.steps], panel_results(nb)))
    fail = i18n.tr("FAIL", lang)
    for step in lab.steps:
        if step.kind == "hands-on":
            assert f"<strong>{fail}</strong>" in shown[step.id], f"{step.id}: {shown[step.id][:300]}"
            assert "maillab-hint" in shown[step.id], f"{step.id}: no hint shown"
    assert not any(entry["passed_now"] for step, entry in session.progress().items()
                   if lab.step(step).kind == "hands-on")
