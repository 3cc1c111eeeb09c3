"""Lab 03 on real machines: identity and destination mistakes, and changes that are not live, FAIL
with the hint that names them."""
import pytest

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine

IDENTITY = "postconf -e myhostname=mail.example.test mydomain=example.test 'myorigin = $mydomain'"
DESTINATIONS = "postconf -e 'mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain'"

# Wrong states hunted per step: (test function, why it is wrong although it looks right).
HUNTED = {
    "identity": [
        ("test_a_duplicate_key_the_last_one_wins", "main.cf has the right myhostname line, but a later line overrides it"),
        ("test_a_setting_on_an_indented_line_is_lost", "the myorigin line reads right, but its leading space joins it to the line above"),
        ("test_mydomain_set_to_the_full_host_name", "mydomain is set and has example.test in it, but it is the host's full name"),
        ("test_myorigin_left_at_the_host_name", "host and domain are right, but mail from root still leaves as root@mail.example.test"),
        ("test_myhostname_set_to_the_domain", "the domain is right, but the server is named as the whole domain, not a host in it"),
        ("test_myorigin_in_double_quotes_comes_out_empty", "the command looked right, but the shell swallowed $mydomain: myorigin is empty"),
    ],
    "destinations": [
        ("test_mydestination_without_the_domain", "the server's own names are local, but mail for the domain is not"),
        ("test_mydestination_without_the_host_name", "the domain is local, but mail for root@mail.example.test goes astray"),
        ("test_the_domain_also_relayed", "the domain is in mydestination, but also in relay_domains"),
        ("test_the_domain_also_a_virtual_mailbox_domain", "the domain is in mydestination, but also a virtual mailbox domain"),
        ("test_mydestination_set_twice_the_last_line_wins", "main.cf has the right mydestination line, but a later one without the domain wins"),
        ("test_mydestination_in_double_quotes_is_cut_short", "the shell swallowed every $name: only localhost. and localhost are left"),
    ],
    "reload": [
        ("test_edited_but_not_reloaded", "main.cf is right, but the running Postfix has not read it"),
        ("test_live_myorigin_wrong_shows_in_the_mail", "reloaded and delivering, but mail from root leaves as root@mail.example.test"),
        ("test_mail_for_the_domain_sent_away_before_the_reload", "the learner sent a message to the domain, but it was sent away, not delivered here"),
        ("test_a_fixed_banner_greets_with_the_old_name", "myhostname is right and live, but the greeting names the old host name"),
        ("test_outside_client.py::test_lab03_loopback_only_takes_no_mail_for_the_domain_from_outside", "mail for the domain is delivered from sendmail inside, other computers cannot connect"),
        ("test_outside_client.py::test_lab03_strangers_rejected_by_client_restrictions", "port 25 is open to all, but smtpd refuses every client outside mynetworks"),
    ],
}


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


def test_myhostname_set_to_the_domain(lab03):
    lab03.reset("identity")
    sh(lab03, "postconf -e myhostname=example.test mydomain=example.test 'myorigin = $mydomain'")
    item = first_problem(lab03, "identity")
    assert item.name == "myhostname_is_the_full_name"
    assert "myhostname = example.test" in item.detail and "myhostname=mail.example.test" in item.hint


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


def test_the_domain_also_a_virtual_mailbox_domain(lab03):
    lab03.reset("reload")
    sh(lab03, "postconf -e virtual_mailbox_domains=example.test")
    item = first_problem(lab03, "destinations")
    assert item.name == "the_domain_is_in_one_class_only" and "virtual_mailbox_domains" in item.detail


def test_mydestination_set_twice_the_last_line_wins(lab03):
    """The right line was added by hand, and Debian's own line further down still names no domain."""
    lab03.reset("destinations")
    sh(lab03, "sed -i '1i mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain' /etc/postfix/main.cf")
    item = first_problem(lab03, "destinations")
    assert item.name == "mydestination_appears_once"
    assert "overriding earlier entry" in item.detail and "last line wins" in item.hint


def test_a_fixed_banner_greets_with_the_old_name(lab03):
    """smtpd_banner written out with the old name instead of $myhostname: the greeting stays `mail`."""
    lab03.reset("reload")
    sh(lab03, "postconf -e 'smtpd_banner = mail ESMTP $mail_name' && postfix reload")
    item = first_problem(lab03, "reload")
    assert item.name == "the_server_greets_with_its_full_name"
    assert "220 mail ESMTP" in item.detail and "smtpd_banner" in item.hint


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


def test_myorigin_in_double_quotes_comes_out_empty(lab03):
    """Issue 16: `postconf -e "myorigin = $mydomain"` lets the shell expand $mydomain (to nothing)."""
    lab03.reset("identity")
    sh(lab03, 'postconf -e myhostname=mail.example.test mydomain=example.test "myorigin = $mydomain"')
    item = first_problem(lab03, "identity")
    assert item.name == "myorigin_is_the_domain" and "to nothing" in item.detail
    assert "single quotes" in item.hint and "'myorigin = $mydomain'" in item.hint


def test_mydestination_in_double_quotes_is_cut_short(lab03):
    lab03.reset("destinations")
    sh(lab03, 'postconf -e "mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain"')
    item = first_problem(lab03, "destinations")
    assert item.name == "mydestination_includes_the_domain" and "cut short" in item.detail
    assert "single quotes" in item.hint
