"""Lab 13 on real machines: the ways to open port 587 too wide, to hand passwords over in clear
text, to miss Dovecot's socket or to put the relay rules in the wrong order FAIL with the hint that
names the setting."""
import pytest

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine
AUTH_CONF = "/etc/dovecot/conf.d/99-postfix-auth.conf"

# Wrong states hunted per step: (test function, why it is wrong although it looks right).
HUNTED = {
    "submission-port": [
        ("test_auth_offered_in_clear_text", "STARTTLS is offered, but so is AUTH before it: passwords in clear text"),
        ("test_auth_enabled_in_main_cf", "port 587 is right, but main.cf makes port 25 offer AUTH without TLS"),
        ("test_tls_not_required_on_587", "STARTTLS is offered, yet a client may send without it"),
        ("test_submission_open_to_everyone", "permit_mynetworks reads like the office, but mynetworks is the whole Internet"),
        ("test_service_added_but_not_reloaded", "master.cf has the submission service, the running Postfix does not"),
    ],
    "sasl": [
        ("test_auth_socket_path_wrong", "both sides name a socket in private/, but not the same one"),
        ("test_socket_outside_the_chroot", "Dovecot's own socket exists, but chrooted smtpd cannot see it"),
        ("test_socket_postfix_cannot_use", "the socket is in the right place, but only root may use it"),
        ("test_sasl_type_left_as_cyrus", "the socket is right, but Postfix asks Cyrus SASL, which knows no alice"),
    ],
    "authenticated-relay": [
        ("test_permit_sasl_after_reject_unauth_destination", "permit_sasl_authenticated is there, but after the rule that refuses"),
        ("test_everyone_trusted_by_mynetworks", "alice relays, and so does every stranger on port 25"),
        ("test_relay_rules_that_refuse_port_25", "alice relays and strangers do not, but nobody can send mail to example.test"),
    ],
}


@pytest.fixture
def lab13(lab_session):
    return lab_session("submission")


def _all_solved(lab):
    lab.reset("authenticated-relay")
    lab.solve("authenticated-relay", only=True)


# --- submission-port ---------------------------------------------------------------------------

def test_auth_offered_in_clear_text(lab13):
    _all_solved(lab13)
    sh(lab13, "postconf -P submission/inet/smtpd_tls_auth_only=no submission/inet/smtpd_tls_security_level=may"
              " && postfix reload")
    item = first_problem(lab13, "submission-port")
    assert item.name == "no_auth_before_starttls"
    assert "port 587" in item.detail and "clear text" in item.detail and "smtpd_tls_auth_only=yes" in item.hint


def test_auth_enabled_in_main_cf(lab13):
    _all_solved(lab13)
    sh(lab13, "postconf -e smtpd_sasl_auth_enable=yes && postfix reload")
    item = first_problem(lab13, "submission-port")
    assert item.name == "no_auth_before_starttls"
    assert "port 25" in item.detail and "postconf -X smtpd_sasl_auth_enable" in item.hint


def test_tls_not_required_on_587(lab13):
    lab13.reset("sasl")
    sh(lab13, "postconf -P submission/inet/smtpd_tls_security_level=may && postfix reload")
    item = first_problem(lab13, "submission-port")
    assert item.name == "port_587_wants_tls_first"
    assert "250" in item.detail and "may" in item.detail and "smtpd_tls_security_level=encrypt" in item.hint


def test_submission_open_to_everyone(lab13):
    lab13.reset("sasl")
    sh(lab13, "postconf -P submission/inet/smtpd_client_restrictions=permit_mynetworks,permit_sasl_authenticated,reject"
              " && postconf -e 'mynetworks = 0.0.0.0/0' && postfix reload")
    item = first_problem(lab13, "submission-port")
    assert item.name == "a_stranger_cannot_relay_on_587"
    assert "0.0.0.0/0" in item.detail and "mynetworks" in item.hint


def test_service_added_but_not_reloaded(lab13):
    lab13.reset("submission-port")
    sh(lab13, "postconf -M submission/inet='submission inet n - y - - smtpd'"
              " && postconf -P submission/inet/smtpd_tls_security_level=encrypt")
    item = first_problem(lab13, "submission-port")
    # Within the same second as the reset's own reload the change may not show in the file times:
    # then the outside client finds port 587 closed, and that hint names the reload too.
    assert item.name in ("postfix_runs_with_the_saved_configuration", "port_587_answers")
    assert "postfix reload" in item.hint


# --- sasl --------------------------------------------------------------------------------------

def test_auth_socket_path_wrong(lab13):
    _all_solved(lab13)
    sh(lab13, "postconf -e smtpd_sasl_path=private/dovecot-auth && postfix reload")
    item = first_problem(lab13, "sasl")
    assert item.name == "postfix_finds_dovecot_auth_socket"
    assert "/var/spool/postfix/private/dovecot-auth" in item.detail and "private/auth" in item.hint


def test_socket_outside_the_chroot(lab13):
    _all_solved(lab13)
    sh(lab13, "test -S /run/dovecot/auth-client && postconf -e smtpd_sasl_path=/run/dovecot/auth-client"
              " && postfix reload")
    item = first_problem(lab13, "sasl")
    assert item.name == "postfix_finds_dovecot_auth_socket"
    assert "/var/spool/postfix/run/dovecot/auth-client" in item.detail and "chroot" in item.hint


def test_socket_postfix_cannot_use(lab13):
    _all_solved(lab13)
    sh(lab13, f"sed -i 's/mode = 0660/mode = 0600/; s/user = postfix/user = root/; s/group = postfix/group = root/'"
              f" {AUTH_CONF} && service dovecot restart >/dev/null 2>&1")
    item = first_problem(lab13, "sasl")
    assert item.name == "postfix_finds_dovecot_auth_socket"
    assert "0600" in item.detail and "user = postfix" in item.hint


def test_sasl_type_left_as_cyrus(lab13):
    _all_solved(lab13)
    sh(lab13, "postconf -X smtpd_sasl_type && postfix reload")
    item = first_problem(lab13, "sasl")
    assert item.name == "postfix_finds_dovecot_auth_socket" and "Cyrus" in item.detail


# --- authenticated-relay -----------------------------------------------------------------------

def test_permit_sasl_after_reject_unauth_destination(lab13):
    lab13.reset("authenticated-relay")
    sh(lab13, "postconf -e 'smtpd_relay_restrictions = permit_mynetworks reject_unauth_destination "
              "permit_sasl_authenticated' && postfix reload")
    item = first_problem(lab13, "authenticated-relay")
    assert item.name == "alice_relays_to_remote_test"
    assert "Relay access denied" in item.detail and "in order" in item.hint


def test_everyone_trusted_by_mynetworks(lab13):
    _all_solved(lab13)
    sh(lab13, "postconf -e 'mynetworks = 0.0.0.0/0' && postfix reload")
    item = first_problem(lab13, "authenticated-relay")
    assert item.name == "strangers_still_cannot_relay"
    assert "port 25" in item.detail and "0.0.0.0/0" in item.detail and "mynetworks" in item.hint


def test_relay_rules_that_refuse_port_25(lab13):
    _all_solved(lab13)
    sh(lab13, "postconf -e 'smtpd_relay_restrictions = permit_sasl_authenticated reject' && postfix reload")
    item = first_problem(lab13, "authenticated-relay")
    assert item.name == "port_25_still_takes_mail_for_example_test"
    assert "alice@example.test" in item.detail and "reject_unauth_destination" in item.hint
