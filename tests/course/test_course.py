"""The whole course on real machines: every lab proves its own steps (fresh FAIL, solution PASS,
again PASS), and every lab notebook runs headless from top to bottom."""
from __future__ import annotations

import pytest

from grader import lab as labs
from grader.selftest import selftest_lab

from .conftest import LEARNER
from .notebooks import panel_results, run_notebook

pytestmark = pytest.mark.machine

COURSE = labs.all_labs()
# What each notebook's own cells must have shown, besides every step passing.
NOTEBOOK_SHOWS = {
    "install-postfix": ["mail.example.test",                 # `!hostname --fqdn` ran inside the machine
                        "Setting up postfix",                # the learner's own install cell did the work
                        "The journey of message", "mailbox on mail"],  # lab.mailflow()
    "dovecot": ["Setting up dovecot-lmtpd",                  # the learner's own install cell
                "starting up for imap, lmtp, pop3",          # Dovecot's own log file
                "private/dovecot-lmtp", "Saved",             # Postfix's lmtp hands over to Dovecot
                "+OK Logged in.", "b OK List completed"],    # POP3 and IMAP sessions by hand
    "tls": ["DNS:mail.example.test", "mail.example.test.pem: OK",  # the learner's certificate, verified
            "Verification: OK", "TLS started",                # openssl s_client and swaks over TLS
            "Anonymous TLS connection established from"],
    "troubleshooting": ["Relay access denied", "unused parameter: mydestinaton",   # the symptoms, seen
                        "private/dovecot_lmtp", "support: not in the alias database",
                        "status=sent (250 2.0.0"],                                 # mail flows again
}


@pytest.mark.parametrize("lab", COURSE, ids=lambda lab: lab.id)
def test_selftest(lab):
    verdicts = selftest_lab(lab, report=lambda verdict: None)
    assert [v.step for v in verdicts] == [s.id for s in lab.steps]
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
