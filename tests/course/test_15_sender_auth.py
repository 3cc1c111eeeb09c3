"""Lab 15 on real machines: records that look published but are not what receivers read, a key
that is not the signing key, a selector that differs, a milter Postfix never reaches, each FAIL
with the hint that names the cause, as mx1.remote.test's verdict shows it."""
import pytest

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine

ZONE = "/etc/nsd/example.test.zone"
RELOAD_ZONE = "nsd-checkzone example.test /etc/nsd/example.test.zone >/dev/null && nsd-control reload example.test"

# Wrong states hunted per step: (test function, why it is wrong although it looks right).
HUNTED = {
    "spf": [
        ("test_spf_record_with_a_syntax_error", "a TXT record starting v=spf1 is published, but mx1 cannot parse it"),
        ("test_spf_record_that_only_softfails", "the record names the server, but ~all lets forgers through"),
        ("test_spf_record_in_the_file_but_not_loaded", "the zone file has the record, nsd was never reloaded"),
        ("test_spf_policy_after_a_permit", "policyd-spf is configured, but after permit_auth_destination: never asked"),
        ("test_spf_record_without_the_own_server", "forgers are refused, and so is alice's own mail at mx1"),
    ],
    "dkim": [
        ("test_published_key_is_not_the_signing_key", "a key is published at mail._domainkey, but another signs"),
        ("test_selector_differs", "OpenDKIM signs with selector s2, the key sits at mail._domainkey"),
        ("test_milter_configured_but_not_reached", "smtpd_milters names a port where OpenDKIM does not listen"),
        ("test_a_second_key_published_beside_the_first", "the signing key is published, and a second one too"),
    ],
    "dmarc": [
        ("test_dmarc_record_at_the_domain_itself", "v=DMARC1 is published, at example.test instead of _dmarc"),
        ("test_dmarc_record_without_a_policy", "_dmarc has v=DMARC1 and rua, but no p="),
        ("test_dmarc_fails_without_aligned_spf_or_dkim", "the record is right, but nothing signs and SPF is gone"),
    ],
}


@pytest.fixture
def lab15(lab_session):
    return lab_session("sender-auth")


def _solved(lab, step):
    lab.reset(step)
    lab.solve(step, only=True)


def _spf(lab, record):
    sh(lab, f"sed -i '/v=spf1/d' {ZONE} && echo '@ IN TXT \"{record}\"' >> {ZONE} && {RELOAD_ZONE}")


# --- spf -------------------------------------------------------------------------------------

def test_spf_record_with_a_syntax_error(lab15):
    _solved(lab15, "spf")
    _spf(lab15, "v=spf1 mx ip4:192.0.2.300 -all")
    item = first_problem(lab15, "spf")
    assert item.name == "alice_passes_spf"
    assert "spf=permerror" in item.detail and "does not parse" in item.hint


def test_spf_record_that_only_softfails(lab15):
    _solved(lab15, "spf")
    _spf(lab15, "v=spf1 mx ~all")
    item = first_problem(lab15, "spf")
    assert item.name == "example_test_publishes_spf"
    assert "~all" in item.detail and "-all" in item.hint


def test_spf_record_in_the_file_but_not_loaded(lab15):
    lab15.reset("spf")
    sh(lab15, f"echo '@ IN TXT \"v=spf1 mx -all\"' >> {ZONE}")
    item = first_problem(lab15, "spf")
    assert item.name == "example_test_publishes_spf"
    assert "no SPF record" in item.detail and "nsd-control reload" in item.hint


def test_spf_policy_after_a_permit(lab15):
    _solved(lab15, "spf")
    sh(lab15, "postconf -e 'smtpd_recipient_restrictions = permit_mynetworks permit_sasl_authenticated "
              "reject_unauth_destination permit_auth_destination check_policy_service unix:private/policyd-spf' "
              "&& postfix reload")
    item = first_problem(lab15, "spf")
    assert item.name == "a_forged_sender_is_refused"
    assert "alice@example.test" in item.detail and "permit_auth_destination comes before" in item.hint


def test_spf_record_without_the_own_server(lab15):
    _solved(lab15, "spf")
    _spf(lab15, "v=spf1 ip4:198.51.100.99 -all")
    item = first_problem(lab15, "spf")
    assert item.name == "alice_passes_spf"
    assert "spf=fail" in item.detail and "192.0.2.10" in item.hint


# --- dkim ------------------------------------------------------------------------------------

def test_published_key_is_not_the_signing_key(lab15):
    _solved(lab15, "dkim")
    # A second key pair made "to try": its record is published, the first key still signs.
    sh(lab15, f"mkdir -p /root/try && opendkim-genkey -D /root/try -d example.test -s mail && "
              f"sed -i '/_domainkey/,/)/d' {ZONE} && cat /root/try/mail.txt >> {ZONE} && {RELOAD_ZONE}")
    item = first_problem(lab15, "dkim")
    assert item.name == "mx1_verifies_the_dkim_signature"
    assert "dkim=fail" in item.detail and "does not match the published key" in item.hint


def test_selector_differs(lab15):
    _solved(lab15, "dkim")
    sh(lab15, "sed -i 's/^Selector .*/Selector    s2/' /etc/opendkim.conf && service opendkim restart >/dev/null")
    item = first_problem(lab15, "dkim")
    assert item.name == "mx1_verifies_the_dkim_signature"
    assert "s2" in item.hint and "mail._domainkey.example.test" in item.hint


def test_milter_configured_but_not_reached(lab15):
    _solved(lab15, "dkim")
    sh(lab15, "postconf -e smtpd_milters=inet:localhost:8892 non_smtpd_milters=inet:localhost:8892 && postfix reload")
    item = first_problem(lab15, "dkim")
    assert item.name == "mx1_verifies_the_dkim_signature"
    assert "dkim=none" in item.detail and "could not reach the milter" in item.hint and "8892" in item.hint


def test_a_second_key_published_beside_the_first(lab15):
    _solved(lab15, "dkim")
    sh(lab15, f"mkdir -p /root/try && opendkim-genkey -D /root/try -d example.test -s mail && "
              f"cat /root/try/mail.txt >> {ZONE} && {RELOAD_ZONE}")
    item = first_problem(lab15, "dkim")
    assert item.name == "the_public_key_is_published"
    assert "2 key records" in item.detail and "mail.txt" in item.hint


# --- dmarc -----------------------------------------------------------------------------------

def _dmarc(lab, name, record):
    sh(lab, f"sed -i '/DMARC1/d' {ZONE} && echo '{name} IN TXT \"{record}\"' >> {ZONE} && {RELOAD_ZONE}")


def test_dmarc_record_at_the_domain_itself(lab15):
    lab15.reset("dmarc")
    _dmarc(lab15, "@", "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.test")
    item = first_problem(lab15, "dmarc")
    assert item.name == "example_test_publishes_dmarc"
    assert "no DMARC record" in item.detail and "not at example.test itself" in item.hint


def test_dmarc_record_without_a_policy(lab15):
    lab15.reset("dmarc")
    _dmarc(lab15, "_dmarc", "v=DMARC1; rua=mailto:postmaster@example.test")
    item = first_problem(lab15, "dmarc")
    assert item.name == "example_test_publishes_dmarc"
    assert "p=(missing)" in item.detail and "quarantine" in item.hint


def test_dmarc_fails_without_aligned_spf_or_dkim(lab15):
    _solved(lab15, "dmarc")
    sh(lab15, f"postconf -e smtpd_milters= non_smtpd_milters= && postfix reload && sed -i '/v=spf1/d' {ZONE} && "
              f"{RELOAD_ZONE}")
    item = first_problem(lab15, "dmarc")
    assert item.name == "alice_passes_dmarc"
    assert "dmarc=fail" in item.detail and "spf=none" in item.detail and "dkim=none" in item.detail
