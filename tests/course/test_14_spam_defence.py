"""Lab 14 on real machines: rules placed where Postfix never reads them, a block list the lab cannot
reach, postscreen bypassed or idle, and rules so strict that honest mail or alice's laptop is
refused, each FAIL with the hint that names the setting."""
import pytest

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine

# Wrong states hunted per step: (test function, why it is wrong although it looks right).
HUNTED = {
    "helo-sender": [
        ("test_helo_rule_after_a_permit", "reject_invalid_helo_hostname is there, but after `permit`: never read"),
        ("test_rules_saved_but_not_reloaded", "main.cf has every rule, the running Postfix has none"),
        ("test_a_laptop_refused_by_a_strict_helo_rule", "bots are refused, and so is alice's laptop on port 587"),
        ("test_sender_verification_refuses_honest_mail", "every bad sender is refused, and so is every honest server"),
    ],
    "dnsbl": [
        ("test_a_block_list_the_lab_cannot_reach", "reject_rbl_client is there, but names a list of the Internet"),
        ("test_block_list_after_permit_auth_destination", "the block list is there, but mail for example.test is "
                                                          "permitted before it is read"),
        ("test_block_list_set_but_not_reloaded", "main.cf names the block list, the running Postfix does not"),
    ],
    "postscreen": [
        ("test_smtpd_still_listening_beside_postscreen", "postscreen runs on port 25, and smtpd still answers "
                                                         "192.0.2.10:25 directly"),
        ("test_postscreen_that_only_watches", "postscreen looks the bot up, but its action is ignore: smtpd refuses it"),
        ("test_postscreen_without_smtpd_to_hand_to", "postscreen answers, but has no smtpd pass service"),
        ("test_postscreen_on_the_submission_port", "port 25 is right, but postscreen took port 587 from alice too"),
    ],
}


@pytest.fixture
def lab14(lab_session):
    return lab_session("spam-defence")


def _solved(lab, step):
    lab.reset(step)
    lab.solve(step, only=True)


# --- helo-sender -------------------------------------------------------------------------------

def test_helo_rule_after_a_permit(lab14):
    _solved(lab14, "helo-sender")
    sh(lab14, "postconf -e 'smtpd_helo_restrictions = permit_mynetworks permit reject_invalid_helo_hostname'"
              " && postfix reload")
    item = first_problem(lab14, "helo-sender")
    assert item.name == "a_bad_helo_name_is_refused"
    assert "bad_helo!" in item.detail and "250" in item.detail
    assert "permit comes before reject_invalid_helo_hostname" in item.hint


def test_rules_saved_but_not_reloaded(lab14):
    lab14.reset("helo-sender")
    sh(lab14, "sleep 1; postconf -e smtpd_helo_required=yes 'smtpd_helo_restrictions = reject_invalid_helo_hostname'")
    item = first_problem(lab14, "helo-sender")
    assert item.name == "postfix_runs_with_the_saved_configuration" and "postfix reload" in item.hint


def test_a_laptop_refused_by_a_strict_helo_rule(lab14):
    _solved(lab14, "helo-sender")
    sh(lab14, "postconf -e 'smtpd_helo_restrictions = reject_invalid_helo_hostname reject_non_fqdn_helo_hostname'"
              " && postfix reload")
    item = first_problem(lab14, "helo-sender")
    assert item.name == "alice_still_sends_from_her_laptop"
    assert "alices-laptop" in item.detail and "504" in item.detail and "permit_sasl_authenticated" in item.hint


def test_sender_verification_refuses_honest_mail(lab14):
    _solved(lab14, "helo-sender")
    sh(lab14, "postconf -e 'smtpd_sender_restrictions = permit_mynetworks permit_sasl_authenticated "
              "reject_non_fqdn_sender reject_unknown_sender_domain reject_unverified_sender' && postfix reload")
    item = first_problem(lab14, "helo-sender")
    assert item.name == "honest_mail_still_arrives"
    assert "friend@client.example" in item.detail and "Sender address rejected" in item.detail
    assert "honest" in item.hint


# --- dnsbl -------------------------------------------------------------------------------------

RELAY = "permit_mynetworks permit_sasl_authenticated reject_unauth_destination"


def test_a_block_list_the_lab_cannot_reach(lab14):
    _solved(lab14, "dnsbl")
    sh(lab14, f"postconf -e 'smtpd_recipient_restrictions = {RELAY} reject_rbl_client zen.spamhaus.org'"
              " && postfix reload")
    item = first_problem(lab14, "dnsbl")
    assert item.name == "the_listed_bot_is_refused"
    assert "zen.spamhaus.org" in item.detail and "dnsbl.example.net" in item.hint


def test_block_list_after_permit_auth_destination(lab14):
    _solved(lab14, "dnsbl")
    sh(lab14, "postconf -e 'smtpd_recipient_restrictions = permit_mynetworks permit_auth_destination "
              "reject_unauth_destination reject_rbl_client dnsbl.example.net' && postfix reload")
    item = first_problem(lab14, "dnsbl")
    assert item.name == "the_listed_bot_is_refused"
    assert "203.0.113.66" in item.detail and "permit_auth_destination comes before reject_rbl_client" in item.hint


def test_block_list_set_but_not_reloaded(lab14):
    lab14.reset("dnsbl")
    sh(lab14, f"sleep 1; postconf -e 'smtpd_recipient_restrictions = {RELAY} reject_rbl_client dnsbl.example.net'")
    item = first_problem(lab14, "dnsbl")
    assert item.name == "postfix_runs_with_the_saved_configuration_now" and "postfix reload" in item.hint


# --- postscreen --------------------------------------------------------------------------------

def test_smtpd_still_listening_beside_postscreen(lab14):
    _solved(lab14, "postscreen")
    sh(lab14, "postconf -M 192.0.2.10:smtp/inet='192.0.2.10:smtp inet n - y - - smtpd' && postfix reload")
    item = first_problem(lab14, "postscreen")
    assert item.name == "postscreen_answers_port_25"
    assert "192.0.2.10:smtp" in item.detail and "skips every postscreen test" in item.hint


def test_postscreen_that_only_watches(lab14):
    _solved(lab14, "postscreen")
    sh(lab14, "postconf -X postscreen_dnsbl_action && postfix reload")
    item = first_problem(lab14, "postscreen")
    assert item.name == "postscreen_turns_the_bot_away"
    assert "by smtpd, not postscreen" in item.detail and "postscreen_dnsbl_action = ignore" in item.detail


def test_postscreen_without_smtpd_to_hand_to(lab14):
    _solved(lab14, "postscreen")
    sh(lab14, "postconf -MX smtpd/pass && postfix reload")
    item = first_problem(lab14, "postscreen")
    assert item.name == "postscreen_answers_port_25"
    assert "smtpd pass" in item.detail and "smtpd pass - - y - - smtpd" in item.hint


def test_postscreen_on_the_submission_port(lab14):
    _solved(lab14, "postscreen")
    sh(lab14, "postconf -M submission/inet='submission inet n - y - 1 postscreen' && postfix reload")
    item = first_problem(lab14, "postscreen")
    assert item.name == "alice_still_sends_on_587"
    assert "port 587" in item.detail and "postscreen" in item.detail and "port 25 only" in item.hint
