"""Lab 11 on real machines: wrong certificates and TLS settings FAIL with the right hint."""
import pytest

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine
KEY = "/etc/ssl/private/mail.example.test.key"
CRT = "/etc/ssl/certs/mail.example.test.pem"


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
