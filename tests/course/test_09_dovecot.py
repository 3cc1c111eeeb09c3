"""Lab 09 on real machines: wrong states a learner really gets into FAIL with the right hint."""
import pytest

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine

# Wrong states hunted per step: (test function, why it is wrong although it looks right).
HUNTED = {
    "install-dovecot": [
        ("test_a_broken_configuration_is_named", "one misspelt setting in a new file and Dovecot will not start again"),
        ("test_dovecot_listens_only_on_the_server_itself", "telnet localhost 143 answers on the server, no client on another computer connects"),
        ("test_protocols_without_pop3", "Dovecot runs and IMAP answers from outside, but POP3 does not"),
    ],
    "lmtp": [
        ("test_whole_address_as_user_name_is_explained", "Postfix hands the mail over, Dovecot knows no user alice@example.test"),
        ("test_local_transport_bypasses_the_aliases", "mail for alice reaches Dovecot, mail for her aliases bounces"),
        ("test_socket_in_the_wrong_place", "Dovecot listens for LMTP, just not where Postfix connects"),
        ("test_socket_only_root_may_use", "the socket is where Postfix connects, but the postfix user may not use it"),
        ("test_dovecot_stopped", "the configuration is right, but nothing runs to take the mail"),
        ("test_mail_location_names_alices_maildir", "alice's mail lands in her Maildir, bob's is meant for alice's folder and waits"),
        ("test_maildir_in_another_folder", "Dovecot takes and finds the mail, but in ~/mail, not ~/Maildir"),
    ],
    "pop3": [
        ("test_wrong_password_is_not_taken_for_plaintext", "POP3 answers from outside, but alice's password is not alice123"),
        ("test_plaintext_allowed_in_a_file_dovecot_does_not_read", "disable_plaintext_auth = no is written, in a file Dovecot never reads"),
        ("test_plaintext_allowed_but_not_reloaded", "the configuration allows the password, the running Dovecot still refuses it"),
        ("test_pop3_reads_another_mail_location", "alice logs in over POP3, but POP3 reads an empty mbox, not her Maildir"),
    ],
    "imap": [
        ("test_folders_created_but_not_subscribed", "the folders exist, but mail clients hide folders that are not subscribed"),
        ("test_imap_only_on_the_server_itself", "POP3 and local IMAP work, but IMAP from another computer finds no listener"),
        ("test_junk_folder_forgotten", "Drafts, Sent and Trash are there, Junk is missing"),
        ("test_folders_written_but_not_reloaded", "the folders file is right, the running Dovecot has not read it"),
    ],
}


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


def test_dovecot_listens_only_on_the_server_itself(lab09):
    """listen = 127.0.0.1: `telnet localhost 143` works on the server, no mail client elsewhere connects."""
    lab09.reset("lmtp")
    sh(lab09, "echo 'listen = 127.0.0.1' > /etc/dovecot/conf.d/99-listen.conf"
              " && service dovecot restart >/dev/null 2>&1")
    item = first_problem(lab09, "install-dovecot")
    assert item.name == "pop3_and_imap_answer_from_outside"
    assert "cannot connect" in item.detail and "listen" in item.hint


def test_protocols_without_pop3(lab09):
    """protocols = imap lmtp: IMAP answers from outside, POP3 does not."""
    lab09.reset("lmtp")
    sh(lab09, "echo 'protocols = imap lmtp' > /etc/dovecot/conf.d/99-protocols.conf"
              " && service dovecot restart >/dev/null 2>&1")
    item = first_problem(lab09, "install-dovecot")
    assert item.name == "pop3_and_imap_answer_from_outside"
    assert "POP3" in item.detail and "110" in item.detail and "protocols" in item.hint


def test_mail_location_names_alices_maildir(lab09):
    """mail_location = maildir:/home/alice/Maildir: alice's mail arrives, and bob's lands in alice's Maildir."""
    lab09.reset("pop3")
    sh(lab09, "sed -i 's#^mail_location = .*#mail_location = maildir:/home/alice/Maildir#'"
              " /etc/dovecot/conf.d/99-lmtp.conf && doveadm reload")
    item = first_problem(lab09, "lmtp")
    assert item.name == "a_tagged_message_to_bob_reaches_his_maildir"
    assert "bob@example.test" in item.detail and "maildir:/home/alice/Maildir is one fixed folder" in item.hint


def test_maildir_in_another_folder(lab09):
    """mail_location = maildir:~/mail: Dovecot delivers and finds the mail, but not in ~/Maildir."""
    lab09.reset("pop3")
    sh(lab09, "sed -i 's#^mail_location = .*#mail_location = maildir:~/mail#'"
              " /etc/dovecot/conf.d/99-lmtp.conf && doveadm reload")
    item = first_problem(lab09, "lmtp")
    assert item.name == "a_tagged_message_to_alice_reaches_dovecot"
    assert "not in /home/alice/Maildir" in item.detail and "maildir:~/Maildir" in item.hint


def test_plaintext_allowed_in_a_file_dovecot_does_not_read(lab09):
    """disable_plaintext_auth = no written next to conf.d, not in it: Dovecot never reads it."""
    lab09.reset("pop3")
    sh(lab09, "echo 'disable_plaintext_auth = no' > /etc/dovecot/99-plaintext.conf && doveadm reload")
    item = first_problem(lab09, "pop3")
    assert item.name == "alice_reads_the_message_over_pop3"
    assert "Plaintext authentication disallowed" in item.detail and "conf.d" in item.hint


def test_plaintext_allowed_but_not_reloaded(lab09):
    """The file says disable_plaintext_auth = no; the running Dovecot has not read it."""
    lab09.reset("pop3")
    sh(lab09, "echo 'disable_plaintext_auth = no' > /etc/dovecot/conf.d/99-plaintext.conf")
    item = first_problem(lab09, "pop3")
    assert item.name == "alice_reads_the_message_over_pop3"
    assert "Plaintext authentication disallowed" in item.detail and "doveadm reload" in item.hint
    assert "already" in item.hint


def test_pop3_reads_another_mail_location(lab09):
    """An old tutorial's `protocol pop3 { mail_location = mbox:... }`: POP3 logs in and shows an empty box."""
    lab09.reset("imap")
    sh(lab09, "printf 'protocol pop3 {\\n  mail_location = mbox:~/mail:INBOX=/var/mail/%%u\\n}\\n'"
              " > /etc/dovecot/conf.d/99-pop3.conf && doveadm reload")
    item = first_problem(lab09, "pop3")
    assert item.name == "alice_reads_the_message_over_pop3"
    assert "not the tagged one" in item.detail and "mail_location" in item.hint


def test_imap_only_on_the_server_itself(lab09):
    """IMAP kept for a webmail on the server (address = 127.0.0.1): POP3 works from outside, IMAP does not."""
    lab09.reset("imap")
    lab09.solve("imap", only=True)
    sh(lab09, "printf 'service imap-login {\\n  inet_listener imap {\\n    address = 127.0.0.1\\n  }\\n}\\n'"
              " > /etc/dovecot/conf.d/99-imap-local.conf && doveadm reload")
    item = first_problem(lab09, "imap")
    assert item.name == "alice_reads_the_message_over_imap"
    assert "could not connect" in item.detail and "143" in item.detail


def test_junk_folder_forgotten(lab09):
    lab09.reset("imap")
    lab09.solve("imap", only=True)
    sh(lab09, "sed -i '/mailbox Junk/,/}/d' /etc/dovecot/conf.d/99-folders.conf && doveadm reload")
    item = first_problem(lab09, "imap")
    assert item.name == "alice_has_her_special_folders" and "missing: Junk" in item.detail


def test_folders_written_but_not_reloaded(lab09):
    """The folders file is right; the running Dovecot has not read it."""
    lab09.reset("imap")
    sh(lab09, "cat > /etc/dovecot/conf.d/99-folders.conf <<'CONF'\n"
              "namespace inbox {\n  mailbox Drafts {\n    auto = subscribe\n  }\n  mailbox Sent {\n    auto = subscribe\n  }\n"
              "  mailbox Junk {\n    auto = subscribe\n  }\n  mailbox Trash {\n    auto = subscribe\n  }\n}\nCONF\n"
              "doveconf -h namespace/inbox/mailbox/Junk/auto")
    item = first_problem(lab09, "imap")
    assert item.name == "alice_has_her_special_folders"
    assert "missing" in item.detail and "doveadm reload" in item.hint and "already" in item.hint
