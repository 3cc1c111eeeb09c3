"""Lab 08 on two real machines in a lab network: the mistakes of setting up a backup MX FAIL with
the hint that names them."""
import time

import pytest

from grader.result import Status

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine

# Wrong states hunted per step: (test function, why it is wrong although it looks right).
HUNTED = {
    "primary": [
        ("test_primary_edited_but_not_reloaded", "main.cf names example.test, the running Postfix on mail1 does not"),
        ("test_primary_listening_on_loopback_only", "mydestination is right, but mail1 listens on loopback only: the Internet cannot reach it"),
        ("test_primary_domain_misspelt", "mydestination reads right at a glance, but says example.tset"),
        ("test_primary_refuses_everyone_outside_its_network", "mail1 takes mail for alice from its own network, refuses it from the Internet"),
    ],
    "backup-relay": [
        ("test_backup_with_the_domain_in_mydestination", "mail2 takes the mail, but delivers it into its own mailboxes"),
        ("test_backup_without_a_recipient_list_invites_backscatter", "mail2 relays for alice, and for every made-up name too"),
        ("test_recipient_list_never_built", "the recipient list is written, the table Postfix reads does not exist"),
        ("test_recipient_list_edited_after_postmap", "the text list is newer than the table Postfix reads"),
        ("test_a_backup_that_trusts_everyone_is_an_open_relay", "mail2 takes mail for alice, and relays for every domain"),
        ("test_recipient_list_path_misspelt", "the list is right and built, main.cf names a file that is not there"),
    ],
    "failover": [
        ("test_mail_lost_into_mail2s_mailboxes_while_mail1_is_down", "mail2 takes the mail, but delivers it to its own alice"),
        ("test_failover_backup_bounces_at_once", "mail2 takes the mail and defers it, then bounces it at once"),
        ("test_failover_with_the_backup_down_too", "mail1 is down as asked, but the backup is down as well"),
        ("test_failover_backup_verifies_recipients_at_the_dead_primary", "mail2 accepts alice while mail1 is up, answers 450 while it is down"),
    ],
    "recovery": [
        ("test_forgot_to_flush", "mail1 is back, but the waiting mail stays on mail2 for minutes"),
        ("test_recovery_waiting_mail_deleted", "mail2's queue is empty because the mail was deleted, not handed over"),
        ("test_recovery_flushed_on_the_wrong_machine", "postqueue -f ran, but on mail1, whose queue is empty anyway"),
        ("test_recovery_primary_back_without_the_domain", "mail1 is back and the queue was flushed, but mail1 refuses the mail"),
    ],
}


@pytest.fixture
def lab08(lab_session):
    return lab_session("backup-mx")


def test_primary_edited_but_not_reloaded(lab08):
    lab08.reset("primary")
    time.sleep(1.1)  # the edit must be in a later second than the boot's start of Postfix
    sh(lab08, "postconf -e 'mydestination = $myhostname, example.test, localhost'", machine="mail1")
    item = first_problem(lab08, "primary")
    assert item.name == "mail1_runs_with_the_saved_configuration"
    assert "main.cf" in item.detail and "postfix reload" in item.hint


def test_backup_with_the_domain_in_mydestination(lab08):
    """Does a backup that calls example.test its own fail, saying the mail would stay on mail2?"""
    lab08.reset("failover")
    sh(lab08, "postconf -e 'mydestination = $myhostname, example.test, localhost' && postfix reload", machine="mail2")
    item = first_problem(lab08, "backup-relay")
    assert item.name == "example_test_is_not_final_on_mail2"
    assert "example.test" in item.detail and "own mailboxes" in item.hint


def test_mail_lost_into_mail2s_mailboxes_while_mail1_is_down(lab08):
    """With alice on mail2 too, mail for her is delivered there, not kept for mail1."""
    lab08.reset("failover")
    sh(lab08, "useradd -m alice && postconf -e 'mydestination = $myhostname, example.test, localhost'"
              " && postfix reload", machine="mail2")
    lab08.node("mail1", "stop")
    item = first_problem(lab08, "failover")
    assert item.name == "outside_mail_waits_in_mail2s_queue"
    assert "own mailbox" in item.detail and "relay_domains" in item.hint


def test_backup_without_a_recipient_list_invites_backscatter(lab08):
    lab08.reset("backup-relay")
    sh(lab08, "postconf -e relay_domains=example.test && postfix reload", machine="mail2")
    item = first_problem(lab08, "backup-relay")
    assert item.name == "mail2_knows_the_real_recipients"
    assert "relay_recipient_maps is empty" in item.detail and "backscatter" in item.hint


def test_recipient_list_never_built(lab08):
    lab08.reset("backup-relay")
    sh(lab08, "echo 'alice@example.test OK' > /etc/postfix/relay_recipients && postconf -e relay_domains=example.test"
              " relay_recipient_maps=hash:/etc/postfix/relay_recipients && postfix reload", machine="mail2")
    item = first_problem(lab08, "backup-relay")
    assert item.name == "mail2_knows_the_real_recipients"
    assert "relay_recipients.db does not exist" in item.detail and "postmap /etc/postfix/relay_recipients" in item.hint


def test_recipient_list_edited_after_postmap(lab08):
    lab08.reset("failover")
    time.sleep(1.1)
    sh(lab08, "echo 'carol@example.test OK' >> /etc/postfix/relay_recipients", machine="mail2")
    item = first_problem(lab08, "backup-relay")
    assert item.name == "mail2_knows_the_real_recipients"
    assert "is newer than" in item.detail and "postmap" in item.hint


def test_a_backup_that_trusts_everyone_is_an_open_relay(lab08):
    lab08.reset("failover")
    sh(lab08, "postconf -e mynetworks=0.0.0.0/0 && postfix reload", machine="mail2")
    item = first_problem(lab08, "backup-relay")
    assert item.name == "mail2_is_not_an_open_relay"
    assert "someone@elsewhere.test" in item.detail and "250" in item.detail and "mynetworks" in item.hint


def test_forgot_to_flush(lab08):
    """mail1 is back, but the waiting mail is still on mail2: the hint says postqueue -f."""
    lab08.reset("recovery")
    sh(lab08, "service postfix start", machine="mail1")
    item = first_problem(lab08, "recovery")
    assert item.name == "nothing_waits_on_mail2"
    assert "alice@example.test" in item.detail and "postqueue -f" in item.hint
    sh(lab08, "postqueue -f", machine="mail2")
    result = lab08.check("recovery")
    assert result.status is Status.PASS, str(result)
    assert "-> /var/mail/alice" in result.items[-1].detail


def test_failover_with_mail1_powered_off(lab08):
    """The notebook's way: the machine mail1 stopped (not only its Postfix) counts as down."""
    lab08.reset("failover")
    lab08.node("mail1", "stop")
    result = lab08.check("failover")
    assert result.status is Status.PASS, str(result)
    assert "connection refused" in result.items[0].detail


# --- hunted wrong states (issue "every check proves the whole outcome") ----------------------

def test_primary_listening_on_loopback_only(lab08):
    """The Debian "local only" install: mydestination is right, but mail1 takes no mail from outside."""
    lab08.reset("primary")
    sh(lab08, "postconf -e 'mydestination = $myhostname, example.test, localhost' inet_interfaces=loopback-only"
              " && service postfix restart >/dev/null", machine="mail1")
    item = first_problem(lab08, "primary")
    assert item.name == "outside_mail_for_alice_reaches_her_mailbox_on_mail1"
    assert "inet_interfaces" in item.hint


def test_primary_domain_misspelt(lab08):
    lab08.reset("primary")
    sh(lab08, "postconf -e 'mydestination = $myhostname, example.tset, localhost' && postfix reload", machine="mail1")
    item = first_problem(lab08, "primary")
    assert item.name == "mail1_is_the_final_destination_for_example_test"
    assert "example.tset" in item.detail and "mydestination" in item.hint


def test_primary_refuses_everyone_outside_its_network(lab08):
    """Locked down too far: mail1 takes mail only from its own network, so the Internet cannot reach alice."""
    lab08.reset("primary")
    sh(lab08, "postconf -e 'mydestination = $myhostname, example.test, localhost'"
              " 'smtpd_recipient_restrictions = permit_mynetworks, reject' && postfix reload", machine="mail1")
    item = first_problem(lab08, "primary")
    assert item.name == "outside_mail_for_alice_reaches_her_mailbox_on_mail1"
    assert "mail1" in item.detail and "smtpd_recipient_restrictions" in item.hint


def test_recipient_list_path_misspelt(lab08):
    """relay_recipient_maps names a file that is not there: the hint must not say to postmap it."""
    lab08.reset("backup-relay")
    sh(lab08, "echo 'alice@example.test OK' > /etc/postfix/relay_recipients && postmap /etc/postfix/relay_recipients"
              " && postconf -e relay_domains=example.test relay_recipient_maps=hash:/etc/postfix/relay_recipient"
              " && postfix reload", machine="mail2")
    item = first_problem(lab08, "backup-relay")
    assert item.name == "mail2_knows_the_real_recipients"
    assert "/etc/postfix/relay_recipient does not exist" in item.detail and "relay_recipient_maps" in item.hint


def test_a_cdb_recipient_list_is_fine(lab08):
    """A cdb: table is built as .cdb, not .db: the freshness check must look for the right file."""
    lab08.reset("backup-relay")
    if "cdb" not in sh(lab08, "postconf -m", machine="mail2").out.split():
        pytest.skip("this Postfix has no cdb support")
    sh(lab08, "printf 'alice@example.test OK\\nbob@example.test OK\\n' > /etc/postfix/relay_recipients"
              " && postmap cdb:/etc/postfix/relay_recipients"
              " && postconf -e relay_domains=example.test relay_recipient_maps=cdb:/etc/postfix/relay_recipients"
              " && postfix reload", machine="mail2")
    result = lab08.check("backup-relay")
    assert result.status is Status.PASS, str(result)


def test_failover_backup_bounces_at_once(lab08):
    """mail2 takes the message, but a queue lifetime of 0 bounces it at the first failed attempt."""
    lab08.reset("failover")
    sh(lab08, "postconf -e maximal_queue_lifetime=0 bounce_queue_lifetime=0 && postfix reload", machine="mail2")
    lab08.node("mail1", "stop")
    item = first_problem(lab08, "failover")
    assert item.name == "outside_mail_waits_in_mail2s_queue"
    assert "status=expired" in item.detail and "maximal_queue_lifetime" in item.hint


def test_failover_with_the_backup_down_too(lab08):
    """Both machines stopped: nothing is accepted, and the hint must not send the learner to the recipient list."""
    lab08.reset("failover")
    lab08.node("mail1", "stop")
    sh(lab08, "service postfix stop >/dev/null", machine="mail2")
    item = first_problem(lab08, "failover")
    assert item.name == "outside_mail_waits_in_mail2s_queue"
    assert "mail2" in item.detail and "service postfix start" in item.hint


def test_failover_backup_verifies_recipients_at_the_dead_primary(lab08):
    """reject_unverified_recipient asks mail1 whether alice exists: while mail1 is down mail2 answers 450."""
    lab08.reset("failover")
    sh(lab08, "postconf -e 'smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,"
              " reject_unverified_recipient' && postfix reload", machine="mail2")
    lab08.node("mail1", "stop")
    item = first_problem(lab08, "failover")
    assert item.name == "outside_mail_waits_in_mail2s_queue"
    assert "450" in item.detail and "reject_unverified_recipient" in item.hint


def test_recovery_waiting_mail_deleted(lab08):
    """mail2's queue is empty, but because the waiting mail was deleted, not handed over."""
    lab08.reset("recovery")
    sh(lab08, "service postfix start >/dev/null", machine="mail1")
    sh(lab08, "postsuper -d ALL", machine="mail2")
    item = first_problem(lab08, "recovery")
    assert item.name == "the_waiting_mail_reached_its_mailbox_on_mail1"
    assert "deleted" in item.detail and "postsuper -d" in item.hint and "lost" in item.hint


def test_recovery_flushed_on_the_wrong_machine(lab08):
    lab08.reset("recovery")
    sh(lab08, "service postfix start >/dev/null && postqueue -f", machine="mail1")
    item = first_problem(lab08, "recovery")
    assert item.name == "nothing_waits_on_mail2"
    assert "alice@example.test" in item.detail and "`postqueue -f` on mail2" in item.hint


def test_recovery_primary_back_without_the_domain(lab08):
    """mail1 is back, but without example.test in mydestination: it refuses the handed-over mail (454), which
    keeps waiting on mail2 although the learner flushed: the hint must not only say flush again."""
    lab08.reset("recovery")
    sh(lab08, "postconf -e 'mydestination = $myhostname, localhost' && service postfix start >/dev/null",
       machine="mail1")
    sh(lab08, "postqueue -f; sleep 2", machine="mail2")
    item = first_problem(lab08, "recovery")
    assert item.name == "nothing_waits_on_mail2"
    assert "Relay access denied" in item.detail and "mydestination on mail1" in item.hint
