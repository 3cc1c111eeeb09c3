"""Lab 11 on real machines: wrong certificates and TLS settings FAIL with the right hint."""
import pytest

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine
KEY = "/etc/ssl/private/mail.example.test.key"
CRT = "/etc/ssl/certs/mail.example.test.pem"
CA = "-CA /root/lab-ca/ca.crt -CAkey /root/lab-ca/ca.key -CAcreateserial"
SNAKEOIL = "/etc/ssl/private/ssl-cert-snakeoil.key /etc/ssl/certs/ssl-cert-snakeoil.pem"

# Wrong states hunted per step: (test function, why it is wrong although it looks right).
HUNTED = {
    "certificate": [
        ("test_a_key_anyone_can_read", "the certificate and key match, but any user of the machine can read the key"),
        ("test_a_key_that_does_not_match", "both files are there and look right, but the key is not the certificate's"),
        ("test_a_self_signed_certificate", "right name, right key, but no client trusts a certificate signed by itself"),
        ("test_a_name_only_in_the_cn", "CN=mail.example.test looks right, but clients read only the subjectAltName"),
        ("test_the_wrong_host_name", "signed by the lab CA, but for the short name mail, not mail.example.test"),
        ("test_an_expired_certificate", "signed by the lab CA for the right name, but no longer valid today"),
        ("test_the_ca_certificate_first_in_the_file", "the file holds the server's certificate, but the CA's comes first"),
        ("test_chain_files_override_the_certificate_files", "smtpd_tls_cert_file is right, but Postfix uses the old "
                                                            "certificate named by smtpd_tls_chain_files"),
    ],
    "starttls": [
        ("test_no_tls_log_lines", "TLS works for the client, but the log shows nothing of it"),
        ("test_tls_required_of_every_client", "STARTTLS works, but servers that send without TLS are refused with 530"),
        ("test_an_invalid_security_level", "smtpd_tls_security_level = yes reads like on, but smtpd refuses to start"),
        ("test_chain_files_hint_is_not_reload", "the client sees the old certificate; reloading cannot change it"),
    ],
    "dovecot-tls": [
        ("test_dovecot_keeps_the_snakeoil_certificate", "TLS works on every port and passwords are refused in clear "
                                                        "text, but the certificate is the package's self-signed one"),
        ("test_dovecot_key_does_not_match", "both settings name real files, but the key is not the certificate's: "
                                            "no TLS session can start"),
        ("test_dovecot_ssl_yes_with_clear_text_auth", "TLS works with the right certificate, but alice's password "
                                                      "is still accepted without it"),
        ("test_dovecot_trusts_the_outside_network", "ssl = required and disable_plaintext_auth = yes are there, but "
                                                    "login_trusted_networks lets the Internet's clients log in without TLS"),
    ],
}


@pytest.fixture
def lab11(lab_session):
    return lab_session("tls")


def test_a_key_anyone_can_read(lab11):
    lab11.reset("starttls")
    sh(lab11, f"chmod 644 {KEY}")
    item = first_problem(lab11, "certificate")
    assert item.name == "only_root_can_read_the_key" and "0644" in item.detail and "chmod 600" in item.hint


def test_a_key_that_does_not_match(lab11):
    lab11.reset("starttls")
    sh(lab11, f"(umask 077 && openssl genrsa -out {KEY} 2048 2>/dev/null)")
    item = first_problem(lab11, "certificate")
    assert item.name == "the_key_belongs_to_the_certificate"


def test_a_self_signed_certificate(lab11):
    lab11.reset("starttls")
    sh(lab11, f"openssl req -x509 -new -key {KEY} -subj /CN=mail.example.test -addext "
              f"subjectAltName=DNS:mail.example.test -days 30 -out {CRT}")
    item = first_problem(lab11, "certificate")
    assert item.name == "the_lab_ca_signed_the_certificate" and "self-signed" in item.detail


def test_a_name_only_in_the_cn(lab11):
    lab11.reset("starttls")
    sh(lab11, f"openssl req -new -key {KEY} -subj /CN=mail.example.test | openssl x509 -req -CA /root/lab-ca/ca.crt"
              f" -CAkey /root/lab-ca/ca.key -CAcreateserial -days 30 -out {CRT} 2>/dev/null")
    item = first_problem(lab11, "certificate")
    assert item.name == "the_certificate_names_the_server" and "subjectAltName" in item.hint


def test_the_wrong_host_name(lab11):
    lab11.reset("starttls")
    sh(lab11, f"printf 'subjectAltName = DNS:mail\\n' > /tmp/ext && openssl req -new -key {KEY} -subj /CN=mail"
              f" | openssl x509 -req -CA /root/lab-ca/ca.crt -CAkey /root/lab-ca/ca.key -CAcreateserial -days 30"
              f" -extfile /tmp/ext -out {CRT} 2>/dev/null")
    item = first_problem(lab11, "certificate")
    assert item.name == "the_certificate_names_the_server" and "DNS: mail" in item.detail


def test_no_tls_log_lines(lab11):
    lab11.reset("starttls")
    sh(lab11, "postconf -e smtpd_tls_security_level=may smtpd_tls_loglevel=0 && postfix reload")
    item = first_problem(lab11, "starttls")
    assert item.name == "the_log_shows_the_tls_session" and "smtpd_tls_loglevel=1" in item.hint


def test_an_expired_certificate(lab11):
    lab11.reset("starttls")
    sh(lab11, f"printf 'subjectAltName = DNS:mail.example.test\\n' > /tmp/ext && openssl req -new -key {KEY}"
              f" -subj /CN=mail.example.test | openssl x509 -req {CA} -days 0 -extfile /tmp/ext -out {CRT} 2>/dev/null"
              " && sleep 1.1")
    item = first_problem(lab11, "certificate")
    assert item.name == "the_certificate_names_the_server" and "not now" in item.detail and "-days 365" in item.hint


def test_the_ca_certificate_first_in_the_file(lab11):
    """A "chain" made the wrong way round: Postfix presents the first certificate as its own."""
    lab11.reset("starttls")
    sh(lab11, f"cat /root/lab-ca/ca.crt {CRT} > /tmp/chain && cp /tmp/chain {CRT}")
    item = first_problem(lab11, "certificate")
    assert item.name == "the_key_belongs_to_the_certificate"
    assert "MailLab Lab CA" in item.detail and "first" in item.hint


def test_chain_files_override_the_certificate_files(lab11):
    lab11.reset("starttls")
    sh(lab11, f"postconf -e 'smtpd_tls_chain_files = {SNAKEOIL}' && postfix reload")
    item = first_problem(lab11, "certificate")
    assert item.name == "postfix_has_a_certificate_and_key"
    assert "smtpd_tls_chain_files" in item.detail and "postconf -X smtpd_tls_chain_files" in item.hint


def test_chain_files_hint_is_not_reload(lab11):
    """Issue 21: smtpd_tls_chain_files overrides the certificate settings; `postfix reload` cannot fix that."""
    lab11.reset("starttls")
    lab11.solve("starttls", only=True)
    sh(lab11, f"postconf -e 'smtpd_tls_chain_files = {SNAKEOIL}' && postfix reload")
    item = first_problem(lab11, "starttls")
    assert item.name == "the_client_negotiates_tls_and_trusts_the_certificate"
    assert "smtpd_tls_chain_files" in item.detail and "postconf -X smtpd_tls_chain_files" in item.hint
    assert "still uses the certificate it read before" not in item.hint


def test_tls_required_of_every_client(lab11):
    """`encrypt` on a public MX: servers that do not speak TLS can no longer deliver (RFC 3207)."""
    lab11.reset("starttls")
    sh(lab11, "postconf -e smtpd_tls_security_level=encrypt smtpd_tls_loglevel=1 && postfix reload")
    item = first_problem(lab11, "starttls")
    assert item.name == "a_client_without_tls_can_still_send_mail"
    assert "530" in item.detail and "smtpd_tls_security_level = encrypt" in item.detail and "=may" in item.hint


def test_an_invalid_security_level(lab11):
    lab11.reset("starttls")
    sh(lab11, "postconf -e smtpd_tls_security_level=yes smtpd_tls_loglevel=1 && postfix reload")
    item = first_problem(lab11, "starttls")
    assert item.name == "postfix_offers_starttls"
    assert 'Invalid TLS level "yes"' in item.detail and "service postfix start" not in item.hint


DOVECOT_TLS = "/etc/dovecot/conf.d/99-tls.conf"


def test_dovecot_keeps_the_snakeoil_certificate(lab11):
    lab11.reset("dovecot-tls")
    sh(lab11, f"printf 'ssl = required\\ndisable_plaintext_auth = yes\\n' > {DOVECOT_TLS}"
              " && rm -f /etc/dovecot/conf.d/99-plaintext.conf && doveadm reload")
    item = first_problem(lab11, "dovecot-tls")
    assert item.name == "dovecot_uses_the_lab_certificate"
    assert "snakeoil" in item.detail and "ssl_cert = </etc/ssl/certs/mail.example.test.pem" in item.hint


def test_dovecot_key_does_not_match(lab11):
    lab11.reset("dovecot-tls")
    lab11.solve("dovecot-tls", only=True)
    sh(lab11, "(umask 077 && openssl genrsa -out /etc/dovecot/private/other.key 2048 2>/dev/null)"
              f" && sed -i 's|^ssl_key = .*|ssl_key = </etc/dovecot/private/other.key|' {DOVECOT_TLS}"
              " && doveadm reload")
    item = first_problem(lab11, "dovecot-tls")
    assert item.name == "dovecot_uses_the_lab_certificate"
    assert "/etc/dovecot/private/other.key is not the key of" in item.detail
    assert "ssl_key = </etc/ssl/private/mail.example.test.key" in item.hint


def test_dovecot_ssl_yes_with_clear_text_auth(lab11):
    lab11.reset("dovecot-tls")
    lab11.solve("dovecot-tls", only=True)
    sh(lab11, f"sed -i -e 's/^ssl = .*/ssl = yes/' -e 's/^disable_plaintext_auth = .*/disable_plaintext_auth = no/'"
              f" {DOVECOT_TLS} && doveadm reload")
    item = first_problem(lab11, "dovecot-tls")
    assert item.name == "a_clear_text_login_is_refused"
    assert "in clear text" in item.detail and "ssl = yes" in item.detail
    assert "disable_plaintext_auth = yes" in item.hint and "ssl = required" in item.hint


def test_dovecot_trusts_the_outside_network(lab11):
    lab11.reset("dovecot-tls")
    lab11.solve("dovecot-tls", only=True)
    sh(lab11, f"echo 'login_trusted_networks = 203.0.113.0/24' >> {DOVECOT_TLS} && doveadm reload")
    item = first_problem(lab11, "dovecot-tls")
    assert item.name == "a_clear_text_login_is_refused" and "ssl = required" in item.detail
    assert "login_trusted_networks = 203.0.113.0/24" in item.hint
