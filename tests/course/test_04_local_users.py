"""Lab 04 on real machines: users made wrongly and Maildir set up wrongly FAIL with the hint that
names the mistake."""
import pytest

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine


# Wrong states hunted per step: (test function, why it is wrong although it looks right).
HUNTED = {
    "add-users": [
        ("test_useradd_without_m_makes_no_home", "alice exists but has no home: her Maildir has nowhere to go"),
        ("test_a_home_that_belongs_to_root", "bob's home exists but is root's: Postfix, delivering as bob, cannot write there"),
        ("test_no_password_yet", "both accounts exist, but nobody can log in to read mail later"),
        ("test_a_wrong_password", "alice is right, bob's password differs: his POP3/IMAP login fails later"),
    ],
    "mbox-delivery": [
        ("test_mail_for_a_user_that_does_not_exist", "alice gets mail, the message for bob bounces: unknown user"),
        ("test_a_message_sent_to_alice_only", "alice's mailbox works, bob never got a message: half the step untested"),
        ("test_bobs_mbox_file_belongs_to_root", "alice's mail lands, /var/mail/bob is root's and bob's mail waits in the queue"),
        ("test_mbox_step_after_switching_to_maildir", "mail is delivered, but to Maildir, not to /var/mail where this step looks"),
        ("test_outside_client.py::test_lab04_mbox_loopback_only", "sendmail inside delivers, but nobody on another computer can send mail in"),
    ],
    "maildir": [
        ("test_maildir_without_the_trailing_slash", "home_mailbox = Maildir writes an mbox file named Maildir, not a Maildir"),
        ("test_maildir_set_but_not_reloaded", "main.cf says Maildir/ but the running Postfix still delivers to /var/mail"),
        ("test_a_mailbox_command_takes_over", "home_mailbox is right, but mailbox_command takes over delivery and ignores it"),
        ("test_maildir_in_a_home_the_user_cannot_write", "bob's Maildir fills, alice's home is root's and her mail waits in the queue"),
        ("test_outside_client.py::test_lab04_maildir_smtp_listener_on_loopback", "local mail reaches the Maildirs, mail from other computers cannot get in"),
    ],
}

@pytest.fixture
def lab04(lab_session):
    return lab_session("local-users")


def test_useradd_without_m_makes_no_home(lab04):
    lab04.reset("add-users")
    sh(lab04, "useradd -s /bin/bash alice && useradd -m -s /bin/bash bob"
              " && printf 'alice:alice123\\nbob:bob123\\n' | chpasswd")
    item = first_problem(lab04, "add-users")
    assert item.name == "each_has_a_home_of_their_own"
    assert "/home/alice does not exist" in item.detail and "-m" in item.hint


def test_a_home_that_belongs_to_root(lab04):
    lab04.reset("mbox-delivery")
    sh(lab04, "chown root: /home/bob")
    item = first_problem(lab04, "add-users")
    assert item.name == "each_has_a_home_of_their_own" and "chown -R bob: /home/bob" in item.hint


def test_no_password_yet(lab04):
    lab04.reset("add-users")
    sh(lab04, "useradd -m -s /bin/bash alice && useradd -m -s /bin/bash bob")
    item = first_problem(lab04, "add-users")
    assert item.name == "they_have_the_course_passwords" and "alice has no password" in item.detail


def test_a_wrong_password(lab04):
    lab04.reset("mbox-delivery")
    sh(lab04, "echo bob:secret | chpasswd")
    item = first_problem(lab04, "add-users")
    assert item.name == "they_have_the_course_passwords"
    assert "bob's password is not bob123" in item.detail and "chpasswd" in item.hint


def test_mail_for_a_user_that_does_not_exist(lab04):
    lab04.reset("mbox-delivery")
    sh(lab04, "userdel -r bob 2>/dev/null; printf 'Subject: x\\n\\nx\\n' | sendmail alice@example.test bob@example.test;"
              " sleep 1")
    item = first_problem(lab04, "mbox-delivery")
    assert item.name == "you_sent_alice_and_bob_a_message"
    assert "unknown user" in item.detail and "step 1" in item.hint


def test_maildir_without_the_trailing_slash(lab04):
    lab04.reset("maildir")
    sh(lab04, "postconf -e home_mailbox=Maildir && postfix reload")
    item = first_problem(lab04, "maildir")
    assert item.name == "home_mailbox_is_maildir" and "trailing slash" in item.detail


def test_maildir_set_but_not_reloaded(lab04):
    lab04.reset("maildir")
    sh(lab04, "sleep 1.1; postconf -e home_mailbox=Maildir/")
    item = first_problem(lab04, "maildir")
    assert item.name == "postfix_has_read_main_cf" and "postfix reload" in item.hint


def test_a_mailbox_command_takes_over(lab04):
    lab04.reset("maildir")
    sh(lab04, "postconf -e home_mailbox=Maildir/ 'mailbox_command=/usr/bin/procmail' && postfix reload")
    item = first_problem(lab04, "maildir")
    assert item.name == "home_mailbox_is_maildir" and "mailbox_command" in item.detail


def test_maildir_in_a_home_the_user_cannot_write(lab04):
    lab04.reset("maildir")
    sh(lab04, "chown root: /home/alice && chmod 755 /home/alice && postconf -e home_mailbox=Maildir/ && postfix reload")
    item = first_problem(lab04, "maildir")
    assert item.name == "a_tagged_message_lands_in_maildir_new"
    assert "chown -R alice: /home/alice" in item.hint


def test_mbox_step_after_switching_to_maildir(lab04):
    """Mail looked for in /var/mail while Postfix delivers to Maildir: the mbox step says why."""
    lab04.reset("maildir")
    sh(lab04, "postconf -e home_mailbox=Maildir/ && postfix reload")
    item = first_problem(lab04, "mbox-delivery")
    assert item.name == "postfix_delivers_to_mbox_files" and "home_mailbox = Maildir/" in item.detail


def test_a_message_sent_to_alice_only(lab04):
    """alice's mailbox works, bob never got one: the step is about both users."""
    lab04.reset("mbox-delivery")
    sh(lab04, "printf 'Subject: Hi\\n\\nHello\\n' | sendmail alice@example.test;"
              " for i in $(seq 50); do grep -q '^Subject: Hi' /var/mail/alice && exit 0; sleep 0.1; done; exit 1")
    item = first_problem(lab04, "mbox-delivery")
    assert item.name == "you_sent_alice_and_bob_a_message"
    assert "delivered to: bob" in item.detail and "bob@example.test" in item.hint


def test_bobs_mbox_file_belongs_to_root(lab04):
    """/var/mail/bob made again by hand as root: alice gets mail, bob's waits in the queue."""
    lab04.reset("maildir")
    sh(lab04, "rm -f /var/mail/bob && touch /var/mail/bob && chown root:root /var/mail/bob && chmod 600 /var/mail/bob")
    item = first_problem(lab04, "mbox-delivery")
    assert item.name == "a_tagged_message_reaches_their_mbox_files"
    assert "bob@example.test" in item.detail and "ermission denied" in item.detail
