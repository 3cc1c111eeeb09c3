"""Labs 02-06 on real machines: an Internet Site takes mail for its domain from anyone, not only
from `sendmail` inside the machine (issue 21, item 3).

Each state below delivers fine with local `sendmail` but refuses a client on another computer.
The grader proves it from outside (grader.outside): its own SMTP conversation from 203.0.113.10,
an address that is neither the machine's nor in its mynetworks, and the delivered file read from
the host side.
"""
import pytest

from grader import outside
from grader.result import Status

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine

RESTART = "postfix stop >/dev/null 2>&1; postfix start >/dev/null 2>&1; sleep 0.3"
LOOPBACK_ONLY = f"postconf -e inet_interfaces=loopback-only && {RESTART}"
# The smtp service of master.cf bound to the loopback address only: port 25 "is listening".
MASTER_LOOPBACK = f"sed -i 's/^smtp \\( *\\)inet/127.0.0.1:smtp inet/' /etc/postfix/master.cf && {RESTART}"
STRANGERS_REJECTED = "postconf -e 'smtpd_client_restrictions = permit_mynetworks, reject' && postfix reload"


def at(session, step):
    """The state just after the reference solution of `step`."""
    session.reset(step)
    session.solve(step, only=True)
    return session


def outside_failure(session, step, name):
    item = first_problem(session, step)
    assert item.name == name, str(session.check(step))
    return item


# --- the mechanism ---------------------------------------------------------------------------

def test_the_grader_comes_from_a_stranger_address_and_leaves_no_trace(lab_session):
    """Does the message arrive from 203.0.113.10 (not loopback, not mynetworks), and are the
    grader's routes gone afterwards?"""
    lab = at(lab_session("install-postfix"), "local-delivery")
    host = lab.host(None)
    sent = outside.require_taken(host, ["root@example.test"])
    assert sent.client == outside.STRANGER and sent.server == outside.PUBLIC
    outside.require_in(host, sent, {"/var/mail/root": lambda: host.mailbox("root")})
    log = host.maillog().text(sent.mark)
    assert f"client=unknown[{outside.STRANGER}]" in log
    routes = sh(lab, "ip route show table local").out
    assert outside.STRANGER not in routes and outside.PUBLIC not in routes
    unknown = outside.refusal(outside.send(host, ["nobody-here@example.test"]))
    assert "550" in unknown.detail and "User unknown" in unknown.detail and "id USER" in unknown.hint


def test_open_mynetworks_is_not_needed_and_a_relay_is_still_refused(lab_session):
    """Is the grader a stranger: does the server refuse to relay for it (with no mynetworks set)?"""
    lab = at(lab_session("install-postfix"), "local-delivery")
    sh(lab, "postconf -X mynetworks && postfix reload")
    sent = outside.send(lab.host(None), ["someone@elsewhere.test"])
    assert "relay access denied" in sent.talk.rcpt["someone@elsewhere.test"].text.lower()


# --- lab 02 ----------------------------------------------------------------------------------

def test_lab02_loopback_only_takes_no_mail_from_outside(lab_session):
    """Local delivery works with inet_interfaces = loopback-only: does the step still fail?"""
    lab = at(lab_session("install-postfix"), "local-delivery")
    sh(lab, LOOPBACK_ONLY)
    item = outside_failure(lab, "local-delivery", "mail_from_another_computer_reaches_root")
    assert "connection refused" in item.detail and "inet_interfaces" in item.hint


def test_lab02_smtp_listener_on_loopback_in_master_cf(lab_session):
    """Port 25 listens (on 127.0.0.1 only, from master.cf): does the step still fail?"""
    lab = at(lab_session("install-postfix"), "local-delivery")
    sh(lab, MASTER_LOOPBACK)
    assert lab.check("start").status is Status.PASS  # today's listening check is satisfied
    item = outside_failure(lab, "local-delivery", "mail_from_another_computer_reaches_root")
    assert "connection refused" in item.detail and "master.cf" in item.hint


# --- lab 03 ----------------------------------------------------------------------------------

def test_lab03_loopback_only_takes_no_mail_for_the_domain_from_outside(lab_session):
    lab = at(lab_session("basic-config"), "reload")
    sh(lab, LOOPBACK_ONLY)
    item = outside_failure(lab, "reload", "mail_for_the_domain_from_another_computer_is_delivered_here")
    assert "connection refused" in item.detail and "inet_interfaces" in item.hint


def test_lab03_strangers_rejected_by_client_restrictions(lab_session):
    lab = at(lab_session("basic-config"), "reload")
    sh(lab, STRANGERS_REJECTED)
    item = outside_failure(lab, "reload", "mail_for_the_domain_from_another_computer_is_delivered_here")
    assert "Client host rejected" in item.detail and "smtpd_client_restrictions" in item.hint


# --- lab 04 ----------------------------------------------------------------------------------

def test_lab04_mbox_loopback_only(lab_session):
    lab = at(lab_session("local-users"), "mbox-delivery")
    sh(lab, LOOPBACK_ONLY)
    item = outside_failure(lab, "mbox-delivery", "mail_from_another_computer_reaches_alice_and_bob")
    assert "connection refused" in item.detail and "inet_interfaces" in item.hint


def test_lab04_maildir_smtp_listener_on_loopback(lab_session):
    lab = at(lab_session("local-users"), "maildir")
    sh(lab, MASTER_LOOPBACK)
    item = outside_failure(lab, "maildir", "mail_from_another_computer_lands_in_their_maildirs")
    assert "connection refused" in item.detail and "master.cf" in item.hint


# --- lab 05 (a lab network: the outside client node) -----------------------------------------

def test_lab05_aliases_loopback_only(lab_session):
    lab = at(lab_session("addresses"), "aliases")
    sh(lab, LOOPBACK_ONLY)
    item = outside_failure(lab, "aliases", "sales_mail_from_another_computer_reaches_alice_and_bob")
    assert "203.0.113.10" in item.detail and "connection refused" in item.detail and "inet_interfaces" in item.hint


def test_lab05_virtual_domain_strangers_rejected(lab_session):
    lab = at(lab_session("addresses"), "virtual-domain")
    sh(lab, STRANGERS_REJECTED)
    item = outside_failure(lab, "virtual-domain", "shop_mail_from_another_computer_reaches_its_people")
    assert "Client host rejected" in item.detail and "smtpd_client_restrictions" in item.hint


# --- lab 06 ----------------------------------------------------------------------------------

def test_lab06_carol_loopback_only(lab_session):
    lab = at(lab_session("test-delivery"), "bounce")
    sh(lab, LOOPBACK_ONLY)
    item = outside_failure(lab, "bounce", "mail_for_carol_from_another_computer_is_delivered")
    assert "connection refused" in item.detail and "inet_interfaces" in item.hint


# --- the reference solutions still pass ------------------------------------------------------

@pytest.mark.parametrize("lab_id,step", [
    ("install-postfix", "local-delivery"), ("basic-config", "reload"), ("local-users", "mbox-delivery"),
    ("local-users", "maildir"), ("addresses", "aliases"), ("addresses", "virtual-domain"),
    ("test-delivery", "bounce"),
])
def test_reference_solution_passes_from_outside(lab_session, lab_id, step):
    lab = at(lab_session(lab_id), step)
    result = lab.check(step)
    assert result.status is Status.PASS, str(result)
    again = lab.check(step)
    assert again.status is Status.PASS, str(again)
