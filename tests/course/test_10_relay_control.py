"""Lab 10 on real machines: the ways to leave a relay open, to close it too far, or to trust too
much FAIL with the hint that names the setting."""
import time

import pytest

from grader.result import Status

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine
NARROW = "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128"


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
