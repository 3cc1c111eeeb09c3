"""Lab 09 on real machines: wrong states a learner really gets into FAIL with the right hint."""
import pytest

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine


@pytest.fixture
def lab09(lab_session):
    return lab_session("dovecot")


def test_whole_address_as_user_name_is_explained(lab09):
    """Without auth_username_format = %Ln, does the bounce name the fix?"""
    lab09.reset("pop3")  # LMTP set up
    sh(lab09, "sed -i '/auth_username_format/d' /etc/dovecot/conf.d/99-lmtp.conf && doveadm reload")
    item = first_problem(lab09, "lmtp")
    assert item.name == "a_tagged_message_to_alice_reaches_dovecot"
    assert "User doesn't exist: alice@example.test" in item.detail and "%Ln" in item.hint


def test_local_transport_bypasses_the_aliases(lab09):
    lab09.reset("pop3")
    sh(lab09, "postconf -X mailbox_transport && postconf -e local_transport=lmtp:unix:private/dovecot-lmtp"
              " && postfix reload")
    item = first_problem(lab09, "lmtp")
    assert item.name == "postfix_hands_mailboxes_to_dovecot"
    assert "local_transport" in item.detail and "mailbox_transport" in item.hint


def test_socket_in_the_wrong_place(lab09):
    lab09.reset("pop3")
    sh(lab09, "sed -i 's#private/dovecot-lmtp#private/lmtp#' /etc/dovecot/conf.d/99-lmtp.conf && doveadm reload"
              " && sleep 0.5 && rm -f /var/spool/postfix/private/dovecot-lmtp")
    item = first_problem(lab09, "lmtp")
    assert item.name == "dovecot_listens_where_postfix_connects"
    assert "/var/spool/postfix/private/lmtp" in item.detail and "unix_listener" in item.hint


def test_socket_only_root_may_use(lab09):
    lab09.reset("pop3")
    sh(lab09, "sed -i 's/user = postfix/user = root/; s/group = postfix/group = root/'"
              " /etc/dovecot/conf.d/99-lmtp.conf && doveadm reload"
              " && for i in $(seq 100); do [ \"$(stat -c %U /var/spool/postfix/private/dovecot-lmtp)\" = root ]"
              " && exit 0; sleep 0.1; done; exit 1")
    item = first_problem(lab09, "lmtp")
    assert item.name == "dovecot_listens_where_postfix_connects"
    assert "the postfix user may not use it" in item.detail


def test_dovecot_stopped(lab09):
    lab09.reset("pop3")
    sh(lab09, "service dovecot stop >/dev/null 2>&1")
    item = first_problem(lab09, "lmtp")
    assert item.name == "dovecot_runs_for_lmtp" and "service dovecot start" in item.hint


def test_a_broken_configuration_is_named(lab09):
    lab09.reset("lmtp")
    sh(lab09, "echo 'mail_locaton = maildir:~/Maildir' > /etc/dovecot/conf.d/99-broken.conf")
    item = first_problem(lab09, "install-dovecot")
    assert item.name == "dovecot_can_read_its_configuration" and "99-broken.conf" in item.detail


def test_wrong_password_is_not_taken_for_plaintext(lab09):
    lab09.reset("imap")
    sh(lab09, "echo alice:other | chpasswd")
    item = first_problem(lab09, "pop3")
    assert item.name == "alice_reads_the_message_over_pop3"
    assert "refused" in item.detail and "alice123" in item.hint


def test_folders_created_but_not_subscribed(lab09):
    lab09.reset("imap")
    sh(lab09, "printf 'namespace inbox {\\n mailbox Drafts {\\n auto = create\\n }\\n mailbox Sent {\\n auto = create\\n }\\n"
              " mailbox Junk {\\n auto = create\\n }\\n mailbox Trash {\\n auto = create\\n }\\n}\\n'"
              " > /etc/dovecot/conf.d/99-folders.conf && doveadm reload")
    item = first_problem(lab09, "imap")
    assert item.name == "alice_has_her_special_folders"
    assert "not subscribed" in item.detail and "auto = subscribe" in item.hint
