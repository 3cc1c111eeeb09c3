"""Lab 03 on real machines: identity and destination mistakes, and changes that are not live, FAIL
with the hint that names them."""
import pytest

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine

IDENTITY = "postconf -e myhostname=mail.example.test mydomain=example.test 'myorigin = $mydomain'"
DESTINATIONS = "postconf -e 'mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain'"


@pytest.fixture
def lab03(lab_session):
    return lab_session("basic-config")


def test_edited_but_not_reloaded(lab03):
    """Does a main.cf changed after Postfix started fail the reload step, asking for a reload?"""
    lab03.reset("identity")
    sh(lab03, f"sleep 1.1; {IDENTITY}; {DESTINATIONS}")  # a second after Postfix started
    item = first_problem(lab03, "reload")
    assert item.name == "postfix_has_read_main_cf_since_its_last_change"
    assert "postfix reload" in item.hint and "main.cf changed" in item.detail


def test_a_duplicate_key_the_last_one_wins(lab03):
    lab03.reset("destinations")
    sh(lab03, "echo 'myhostname = mail' >> /etc/postfix/main.cf")
    item = first_problem(lab03, "identity")
    assert item.name == "identity_settings_appear_once"
    assert "overriding earlier entry" in item.detail and "last line wins" in item.hint


def test_a_setting_on_an_indented_line_is_lost(lab03):
    """A line starting with a space continues the line above: the hint says so."""
    lab03.reset("identity")
    sh(lab03, "postconf -e myhostname=mail.example.test mydomain=example.test"
              " && printf '  myorigin = $mydomain\\n' >> /etc/postfix/main.cf")
    item = first_problem(lab03, "identity")
    assert item.name == "identity_settings_appear_once"  # postconf cannot read the joined line
    assert "starts with a space" in item.hint and "myorigin = $mydomain" in item.hint


def test_mydomain_set_to_the_full_host_name(lab03):
    lab03.reset("identity")
    sh(lab03, "postconf -e myhostname=mail.example.test mydomain=mail.example.test")
    item = first_problem(lab03, "identity")
    assert item.name == "mydomain_is_the_lab_domain" and "without the host part" in item.hint


def test_myorigin_left_at_the_host_name(lab03):
    lab03.reset("identity")
    sh(lab03, "postconf -e myhostname=mail.example.test mydomain=example.test 'myorigin = $myhostname'")
    item = first_problem(lab03, "identity")
    assert item.name == "myorigin_is_the_domain"
    assert "root@mail.example.test" in item.detail and "$mydomain" in item.hint


def test_mydestination_without_the_domain(lab03):
    lab03.reset("destinations")
    sh(lab03, "postconf -e 'mydestination = $myhostname, localhost.$mydomain, localhost'")
    item = first_problem(lab03, "destinations")
    assert item.name == "mydestination_includes_the_domain" and "$mydomain" in item.hint


def test_mydestination_without_the_host_name(lab03):
    lab03.reset("destinations")
    sh(lab03, "postconf -e 'mydestination = $mydomain'")
    item = first_problem(lab03, "destinations")
    assert item.name == "mydestination_includes_the_host_names" and "mail.example.test" in item.detail


def test_the_domain_also_relayed(lab03):
    lab03.reset("reload")
    sh(lab03, "postconf -e relay_domains=example.test")
    item = first_problem(lab03, "destinations")
    assert item.name == "the_domain_is_in_one_class_only" and "relay_domains" in item.detail


def test_live_myorigin_wrong_shows_in_the_mail(lab03):
    """Reloaded, but myorigin is the host name: a message from root arrives as root@mail.example.test."""
    lab03.reset("reload")
    sh(lab03, "printf 'Subject: x\\n\\nx\\n' | sendmail postmaster@example.test; "
              "postconf -e 'myorigin = $myhostname' && postfix reload")
    item = first_problem(lab03, "reload")
    assert item.name == "mail_from_root_leaves_as_root_at_the_domain"
    assert "root@mail.example.test" in item.detail


def test_mail_for_the_domain_sent_away_before_the_reload(lab03):
    """The learner's own message to the domain, sent before the reload, was relayed, not delivered."""
    lab03.reset("reload")
    sh(lab03, "postconf -e 'mydestination = $myhostname, localhost' && postfix reload"
              " && printf 'Subject: x\\n\\nx\\n' | sendmail postmaster@example.test && sleep 1"
              f" && {DESTINATIONS} && postfix reload")
    item = first_problem(lab03, "reload")
    assert item.name == "you_sent_mail_to_the_domain"
    assert "not delivered here" in item.detail and "mydestination" in item.hint
