"""Lab 08 on two real machines in a lab network: the mistakes of setting up a backup MX FAIL with
the hint that names them."""
import time

import pytest

from grader.result import Status

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine


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
