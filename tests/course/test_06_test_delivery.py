"""Lab 06 on real machines: wrong ways to send, trace, explain a bounce and work the queue FAIL
with a hint that names the actual problem."""
import pytest

from grader.result import Status

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine

SENDMAIL_TEST = "printf 'Subject: Test 1: sendmail\\n\\nhi\\n' | sendmail alice"
MAIL_TEST = ("command -v mail >/dev/null || apt-get install -y -qq mailutils >/dev/null;"
             " echo hi | mail -s 'Test 2: mail' alice")
WAIT_FOR_3 = ("for i in $(seq 100); do [ $(grep -c '^Subject: Test [123]: ' /var/mail/alice) -ge 3 ] && exit 0;"
              " sleep 0.1; done; exit 1")
QID_OF = "sed -n 's/.*: \\([0-9A-Za-z]*\\): message-id=<{mid}>.*/\\1/p' /var/log/mail.log | tail -n 1"
WAIT_FOR_BOUNCE = ("(for i in $(seq 100); do grep -q 'to=<carol@example.test>.*status=bounced' /var/log/mail.log"
                   " && exit 0; sleep 0.1; done; exit 1)")


# Wrong states hunted per step: (test function, why it is wrong although it looks right).
HUNTED = {
    "send-tools": [
        ("test_swaks_subject_sent_with_sendmail_is_not_smtp", "the swaks message arrived, but through pickup: SMTP was never tried"),
        ("test_mail_subject_sent_with_sendmail_has_no_client", "the mail message arrived, but no mail client sent it"),
        ("test_a_test_message_sent_to_the_wrong_person", "a test message was delivered, to bob instead of alice"),
    ],
    "trace-log": [
        ("test_a_message_id_is_not_a_queue_id", "an id of the right message, but its Message-Id, not its queue id"),
        ("test_the_queue_id_of_the_reply_is_another_message", "a real queue id from the same log lines, of the reply"),
        ("test_the_queue_id_written_in_lower_case", "the right letters in the wrong case: Postfix finds no such queue id"),
    ],
    "bounce": [
        ("test_the_status_is_not_the_reason", "the answer is from the right log line, but it is the status, not the reason"),
        ("test_a_bounce_with_an_empty_sender_goes_back_to_nobody", "carol's message bounced, but the bounce reached nobody"),
        ("test_alias_for_carol_without_newaliases", "carol: alice is in /etc/aliases, but aliases.db was not rebuilt"),
        ("test_outside_client.py::test_lab06_carol_loopback_only", "mail for carol is delivered from inside, other computers cannot send it"),
    ],
    "queue": [
        ("test_released_but_not_flushed_waits_in_the_deferred_queue", "released from hold, but alice still has no report for minutes"),
        ("test_partner_mail_left_deferred", "the report reached alice, but partner.test mail is retried instead of held"),
        ("test_a_deleted_message_is_gone_for_good", "the report is out of the hold queue because it was deleted, not delivered"),
    ],
}

@pytest.fixture
def lab06(lab_session):
    return lab_session("test-delivery")


def test_swaks_subject_sent_with_sendmail_is_not_smtp(lab06):
    """Is the "swaks" message refused when it came in through sendmail, not over SMTP?"""
    lab06.reset("send-tools")
    sh(lab06, f"{SENDMAIL_TEST}; {MAIL_TEST}; printf 'Subject: Test 3: swaks\\n\\nhi\\n' | sendmail alice; {WAIT_FOR_3}")
    item = first_problem(lab06, "send-tools")
    assert item.name == "swaks_message_reached_alice"
    assert "pickup" in item.detail and "swaks --server 127.0.0.1" in item.hint


def test_mail_subject_sent_with_sendmail_has_no_client(lab06):
    lab06.reset("send-tools")
    sh(lab06, f"{SENDMAIL_TEST}; printf 'Subject: Test 2: mail\\n\\nhi\\n' | sendmail alice;"
              " for i in $(seq 100); do [ $(grep -c '^Subject: Test [12]: ' /var/mail/alice) -ge 2 ] && exit 0;"
              " sleep 0.1; done; exit 1")  # both delivered (under load, in either order)
    item = first_problem(lab06, "send-tools")
    assert item.name == "mail_message_reached_alice"
    assert "User-Agent" in item.detail and "mail -s" in item.hint


def test_a_test_message_sent_to_the_wrong_person(lab06):
    lab06.reset("send-tools")
    sh(lab06, "printf 'Subject: Test 1: sendmail\\n\\nhi\\n' | sendmail bob;"
              " for i in $(seq 50); do grep -q 'Test 1' /var/mail/bob && exit 0; sleep 0.1; done; exit 1")
    item = first_problem(lab06, "send-tools")
    assert item.name == "sendmail_message_reached_alice"
    assert "/var/mail/bob" in item.detail and "alice@example.test" in item.hint


def test_a_message_id_is_not_a_queue_id(lab06):
    lab06.reset("trace-log")
    sh(lab06, "echo 'lunch-friday.4711@example.test' > /root/answers/queue-id.txt")
    item = first_problem(lab06, "trace-log")
    assert item.name == "queue_id_is_the_lunch_message"
    assert "a Message-Id, not a queue id" in item.detail


def test_the_queue_id_of_the_reply_is_another_message(lab06):
    """The reply "Re: Lunch on Friday?" is right next to it in the log: its queue id is wrong."""
    lab06.reset("trace-log")
    sh(lab06, QID_OF.format(mid="re-lunch-friday.4712@example.test") + " > /root/answers/queue-id.txt")
    item = first_problem(lab06, "trace-log")
    assert item.name == "queue_id_is_the_lunch_message"
    assert "another message" in item.detail and "re-lunch-friday.4712@example.test" in item.detail


def test_the_status_is_not_the_reason(lab06):
    lab06.reset("bounce")
    sh(lab06, f"echo hi | mail -s 'Welcome Carol' carol; {WAIT_FOR_BOUNCE}; sleep 0.3;"
              " echo bounced > /root/answers/bounce-reason.txt")
    item = first_problem(lab06, "bounce")
    assert item.name == "bounce_reason_is_written"
    assert "not its reason" in item.detail and "parentheses" in item.hint


def test_a_bounce_with_an_empty_sender_goes_back_to_nobody(lab06):
    lab06.reset("bounce")
    sh(lab06, f"printf 'Subject: hi\\n\\nhi\\n' | sendmail -f '' carol; {WAIT_FOR_BOUNCE}")
    item = first_problem(lab06, "bounce")
    assert item.name == "the_sender_got_a_bounce_message"
    assert "non-delivery notification" in item.detail


def test_alias_for_carol_without_newaliases(lab06):
    lab06.reset("bounce")
    sh(lab06, f"echo hi | mail -s 'Welcome Carol' carol; {WAIT_FOR_BOUNCE}; sleep 0.3;"
              " echo 'unknown user: \"carol\"' > /root/answers/bounce-reason.txt;"
              " echo 'carol: alice' >> /etc/aliases; touch -d '+2 seconds' /etc/aliases")
    item = first_problem(lab06, "bounce")
    assert item.name == "mail_for_carol_is_delivered_now"
    assert 'unknown user: "carol"' in item.detail and "run `newaliases`" in item.hint


def test_released_but_not_flushed_waits_in_the_deferred_queue(lab06):
    lab06.reset("queue")
    sh(lab06, "postsuper -H " + "$(" + QID_OF.format(mid="quarterly-report.0930@example.test") + ")")
    item = first_problem(lab06, "queue")
    assert item.name == "quarterly_report_reached_alice"
    assert "deferred queue" in item.detail and "postqueue -i" in item.hint


def test_partner_mail_left_deferred(lab06):
    lab06.reset("queue")
    sh(lab06, "postsuper -H ALL && postqueue -f && "
              "for i in $(seq 100); do grep -q '^Subject: Quarterly report' /var/mail/alice && exit 0; sleep 0.1; done;"
              " exit 1")
    result = lab06.check("queue")
    assert result.status is Status.FAIL
    item = result.first_problem
    assert item.name == "partner_mail_is_on_hold"
    assert "deferred queue" in item.detail and "postsuper -h" in item.hint


def test_a_deleted_message_is_gone_for_good(lab06):
    lab06.reset("queue")
    sh(lab06, "postsuper -d " + "$(" + QID_OF.format(mid="quarterly-report.0930@example.test") + ")")
    item = first_problem(lab06, "queue")
    assert item.name == "quarterly_report_reached_alice"
    assert "no longer in the queue" in item.detail and "Reset this step" in item.hint


def test_the_queue_id_written_in_lower_case(lab06):
    """The right letters, but Postfix's queue ids are case-sensitive: `postcat -q` finds nothing."""
    lab06.reset("trace-log")
    qid = sh(lab06, QID_OF.format(mid="lunch-friday.4711@example.test")).out.strip()
    if qid == qid.lower():  # a queue id of digits only (about 1 in 100) has no other case to write
        pytest.skip(f"queue id {qid} has no letters")
    sh(lab06, f"echo {qid.lower()} > /root/answers/queue-id.txt")
    item = first_problem(lab06, "trace-log")
    assert item.name == "queue_id_is_the_lunch_message"
    assert "not their case" in item.detail and "case-sensitive" in item.hint


def test_each_learner_traces_a_queue_id_of_their_own():
    """Issue 16: the starting state is built for each learner, so the queue id of "Lunch on Friday?"
    (the trace-log answer) differs between learners and is the same after a reset."""
    import re
    from pathlib import Path

    from classroom import layers
    from grader import course

    lab = course.find("test-delivery")

    def lunch_queue_id(name):
        state = layers.state_at(lab, lab.step_index("trace-log"), variant=course.variant_for(lab, name))
        log = next(Path(lower) / "var/log/mail.log" for lower in state.lowers
                   if (Path(lower) / "var/log/mail.log").is_file())
        return re.search(r"([0-9A-F]{6,}): message-id=<lunch-friday", log.read_text()).group(1)

    first, second = lunch_queue_id("pytest-ana"), lunch_queue_id("pytest-ben")
    assert first != second and lunch_queue_id("pytest-ana") == first
