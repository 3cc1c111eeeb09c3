"""Lab 10 on real machines: the ways to leave a relay open, to close it too far, or to trust too
much FAIL with the hint that names the setting."""
import time

import pytest

from grader.result import Status

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine
NARROW = "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128"

# Wrong states hunted per step: (test function, why it is wrong although it looks right).
HUNTED = {
    "not-open-relay": [
        ("test_trusting_the_outside_clients_network", "mynetworks looks narrow, yet it takes in the stranger's whole network"),
        ("test_relay_restrictions_postfix_refuses_to_run_with", "the relay rules read well, but Postfix's SMTP server will not run with them"),
        ("test_relaying_for_a_domain_that_is_not_yours", "mynetworks is narrow, but relay_domains lets anyone relay to elsewhere.test"),
        ("test_relaying_for_the_remote_domain", "elsewhere.test is refused, but relay_domains lets anyone relay to remote.test"),
        ("test_closing_the_door_for_everyone", "nobody relays any more, but nobody can send mail to alice either"),
        ("test_strangers_refused_by_client_restrictions", "the relay is closed by refusing every stranger, so alice gets no mail from outside"),
        ("test_strangers_refused_by_recipient_restrictions", "a plain reject in the recipient rules closes the relay and alice's door too"),
        ("test_closed_in_main_cf_but_not_reloaded", "main.cf is right, but the running Postfix still relays for everyone"),
    ],
    "trusted-relay": [
        ("test_permit_mynetworks_removed", "the office is in mynetworks, but the relay rules never consult mynetworks"),
        ("test_mynetworks_left_to_its_default_style", "no mynetworks line looks safe, but only the server itself may relay"),
        ("test_trusting_a_whole_slash_8", "the office relays and strangers do not, but 16 million addresses are trusted"),
        ("test_trusting_everyone_again_for_the_office", "the office relays again, and so does everyone on the Internet"),
        ("test_only_the_office_machine_trusted", "the office machine relays, every other computer of the office network does not"),
        ("test_office_trusted_in_main_cf_but_not_reloaded", "main.cf trusts the office, the running Postfix does not yet"),
        ("test_office_let_through_by_relay_domains", "the office relays to remote.test, and so does every stranger"),
        ("test_relay_domains_widened_while_trusting_the_office", "office and strangers are right, but anyone may relay to partner.test"),
    ],
}


@pytest.fixture
def lab10(lab_session):
    return lab_session("relay-control")


def test_trusting_the_outside_clients_network(lab10):
    lab10.reset("not-open-relay")
    sh(lab10, f"postconf -e 'mynetworks = {NARROW} 203.0.113.0/24' && postfix reload")
    item = first_problem(lab10, "not-open-relay")
    assert item.name == "outside_client_cannot_relay"
    assert "250" in item.detail and "203.0.113.0/24" in item.detail and "mynetworks" in item.hint


def test_relay_restrictions_postfix_refuses_to_run_with(lab10):
    """A `permit` before the refusal: Postfix itself will not run such relay rules (its SMTP server
    stops at once), and the log line says why."""
    lab10.reset("not-open-relay")
    sh(lab10, f"postconf -e 'mynetworks = {NARROW}'"
              " 'smtpd_relay_restrictions = permit_mynetworks permit reject_unauth_destination'"
              " && postfix reload")
    item = first_problem(lab10, "not-open-relay")
    assert item.name == "outside_client_cannot_relay"
    assert "fatal:" in item.detail and "reject_unauth_destination" in item.detail
    assert "the log line says why" in item.hint


def test_relaying_for_a_domain_that_is_not_yours(lab10):
    lab10.reset("trusted-relay")
    sh(lab10, "postconf -e relay_domains=elsewhere.test && postfix reload")
    item = first_problem(lab10, "not-open-relay")
    assert item.name == "outside_client_cannot_relay"
    assert "relay_domains = elsewhere.test" in item.detail and "not yours" in item.hint


def test_closing_the_door_for_everyone(lab10):
    lab10.reset("trusted-relay")
    sh(lab10, "postconf -e 'smtpd_relay_restrictions = reject' && postfix reload")
    item = first_problem(lab10, "not-open-relay")
    assert item.name == "outside_client_can_still_mail_alice"
    assert "alice@example.test" in item.detail and "mydestination" in item.hint


def test_closed_in_main_cf_but_not_reloaded(lab10):
    lab10.reset("not-open-relay")
    time.sleep(1.1)  # the edit must be in a later second than the boot's start of Postfix
    sh(lab10, f"postconf -e 'mynetworks = {NARROW}'")
    item = first_problem(lab10, "not-open-relay")
    assert item.name == "postfix_runs_with_the_saved_configuration"
    assert "postfix reload" in item.hint


def test_permit_mynetworks_removed(lab10):
    lab10.reset("trusted-relay")
    sh(lab10, f"postconf -e 'mynetworks = {NARROW} 192.0.2.0/24'"
              " 'smtpd_relay_restrictions = permit_sasl_authenticated reject_unauth_destination' && postfix reload")
    item = first_problem(lab10, "trusted-relay")
    assert item.name == "the_office_may_relay"
    assert "Relay access denied" in item.detail and "permit_mynetworks" in item.hint


def test_mynetworks_left_to_its_default_style(lab10):
    """No mynetworks line: Postfix trusts only this host (mynetworks_style = host), not the office."""
    lab10.reset("trusted-relay")
    sh(lab10, "postconf -X mynetworks && postfix reload")
    item = first_problem(lab10, "trusted-relay")
    assert item.name == "the_office_may_relay"
    assert "mynetworks is not set" in item.detail and "192.0.2.10/32" in item.detail
    assert "mynetworks_style" in item.hint and "192.0.2.0/24" in item.hint


def test_trusting_a_whole_slash_8(lab10):
    """192.0.0.0/8 lets the office relay and keeps the client out, but trusts far too much."""
    lab10.reset("trusted-relay")
    sh(lab10, f"postconf -e 'mynetworks = {NARROW} 192.0.0.0/8' && postfix reload")
    item = first_problem(lab10, "trusted-relay")
    assert item.name == "mynetworks_lists_only_your_own_networks"
    assert "192.0.0.0/8 reaches beyond" in item.detail


def test_trusting_everyone_again_for_the_office(lab10):
    lab10.reset("trusted-relay")
    sh(lab10, "postconf -e 'mynetworks = 0.0.0.0/0' && postfix reload")
    result = lab10.check("trusted-relay")
    assert result.status is Status.FAIL
    assert result.items[1].status is Status.PASS  # the office may relay ...
    item = result.first_problem  # ... but so may everyone
    assert item.name == "outside_client_still_cannot_relay" and "0.0.0.0/0" in item.detail


def test_relaying_for_the_remote_domain(lab10):
    """relay_domains = remote.test: elsewhere.test is refused, remote.test relayed for anyone."""
    lab10.reset("not-open-relay")
    lab10.solve("not-open-relay", only=True)
    sh(lab10, "postconf -e relay_domains=remote.test && postfix reload")
    item = first_problem(lab10, "not-open-relay")
    assert item.name == "relay_domains_names_only_your_domains"
    assert "remote.test" in item.detail and "relay_domains" in item.detail and "not yours" in item.hint


def test_strangers_refused_by_client_restrictions(lab10):
    """The relay is closed by refusing every stranger as a client: mail for alice is refused too."""
    lab10.reset("not-open-relay")
    lab10.solve("not-open-relay", only=True)
    sh(lab10, "postconf -e 'smtpd_client_restrictions = permit_mynetworks reject' && postfix reload")
    item = first_problem(lab10, "not-open-relay")
    assert item.name == "outside_client_can_still_mail_alice"
    assert "Client host rejected" in item.detail and "smtpd_client_restrictions" in item.hint


def test_only_the_office_machine_trusted(lab10):
    """192.0.2.30/32: the office machine relays, every other computer of the office does not."""
    lab10.reset("trusted-relay")
    sh(lab10, f"postconf -e 'mynetworks = {NARROW} 192.0.2.30/32' && postfix reload")
    item = first_problem(lab10, "trusted-relay")
    assert item.name == "mynetworks_takes_in_the_whole_office_network"
    assert "192.0.2.30/32" in item.detail and "192.0.2.0/24" in item.hint


def test_office_trusted_in_main_cf_but_not_reloaded(lab10):
    lab10.reset("trusted-relay")
    time.sleep(1.1)  # the edit must be in a later second than the last start of Postfix
    sh(lab10, f"postconf -e 'mynetworks = {NARROW}' && postfix reload && sleep 1.1"
              f" && postconf -e 'mynetworks = {NARROW} 192.0.2.0/24'")
    item = first_problem(lab10, "trusted-relay")
    assert item.name == "postfix_runs_with_the_saved_configuration_now"
    assert "postfix reload" in item.hint


def test_strangers_refused_by_recipient_restrictions(lab10):
    """The relay closed in smtpd_recipient_restrictions with a plain reject: alice gets nothing from outside."""
    lab10.reset("not-open-relay")
    lab10.solve("not-open-relay", only=True)
    sh(lab10, "postconf -e 'smtpd_recipient_restrictions = permit_mynetworks reject' && postfix reload")
    item = first_problem(lab10, "not-open-relay")
    assert item.name == "outside_client_can_still_mail_alice"
    assert "Recipient address rejected" in item.detail and "smtpd_recipient_restrictions" in item.hint


def test_office_let_through_by_relay_domains(lab10):
    """relay_domains = remote.test instead of trusting the office: the office relays there, so does everyone."""
    lab10.reset("trusted-relay")
    sh(lab10, "postconf -e relay_domains=remote.test && postfix reload")
    item = first_problem(lab10, "trusted-relay")
    assert item.name == "outside_client_still_cannot_relay"
    assert "relay_domains = remote.test" in item.detail and "not yours" in item.hint


def test_relay_domains_widened_while_trusting_the_office(lab10):
    """The office is trusted right, and relay_domains names a foreign domain no check relays to."""
    lab10.reset("trusted-relay")
    lab10.solve("trusted-relay", only=True)
    sh(lab10, "postconf -e relay_domains=partner.test && postfix reload")
    item = first_problem(lab10, "trusted-relay")
    assert item.name == "relay_domains_still_names_only_your_domains" and "partner.test" in item.detail
