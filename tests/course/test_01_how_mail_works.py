"""Lab 01 on real machines: wrong quiz answers, SMTP spoken wrongly and MX answers written wrongly
FAIL with a hint that names the mistake."""
import json

import pytest

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine

# Wrong states hunted per step: (test function, why it is wrong although it looks right).
HUNTED = {
    "roles-quiz": [
        ("test_a_mixed_up_role_is_named_without_giving_the_answer", "every question is answered and ten are right, one role is mixed up"),
        ("test_several_wrong_protocols_show_the_first_and_count_the_rest", "the roles are right, but two protocols are swapped for others"),
        ("test_unanswered_questions_are_listed", "the answers given are all right, but two questions were skipped"),
        ("test_a_hand_edited_answers_file_is_explained", "an answers file exists, but written by hand in a form the quiz never writes"),
    ],
    "smtp-by-hand": [
        ("test_no_empty_line_after_the_headers", "headers and text were typed, but the text became part of the headers"),
        ("test_envelope_only_without_headers", "MAIL FROM and RCPT TO were given, but the message itself has no headers"),
        ("test_the_null_sender_is_only_for_bounces", "the message was stored, but its envelope names no sender at all"),
        ("test_talking_to_the_other_server", "a message was stored by remote.test, but by mx2, not mx1"),
        ("test_swaks_is_not_speaking_smtp_yourself", "mx1 stored a fine message, but a program spoke SMTP, not the learner"),
        ("test_quit_before_the_final_dot_stores_nothing", "every command was typed and answered, but QUIT came before the lone dot"),
        ("test_headers_with_only_an_empty_line_of_text", "the headers and the empty line are right, but there is no text after them"),
        ("test_a_copied_conversation_does_not_know_the_greeting_word", "a conversation copied from elsewhere reaches mx1, but never read the greeting it answers"),
    ],
    "mx-lookup": [
        ("test_wrong_mx_answers[host-first]", "the right hosts and numbers, but each line is written the other way round"),
        ("test_wrong_mx_answers[addresses]", "the servers' addresses are right, but an MX record names hosts, not addresses"),
        ("test_wrong_mx_answers[one-host]", "the best mail server is right, but the backup server is missing"),
        ("test_wrong_mx_answers[extra-host]", "both mail servers are right, but a host that is no MX was added"),
        ("test_wrong_mx_answers[swapped-preferences]", "both hosts in the right order, but each with the other's preference"),
        ("test_wrong_mx_answers[backup-first]", "hosts and preferences are right, but the backup server is written first"),
        ("test_wrong_mx_answers[twice]", "both mail servers with their preferences, but one of them written twice"),
    ],
}

MODEL = {"writer": "mua", "transfer": "mta", "delivery": "mda", "retrieval": "mra", "submit": "smtp",
         "relay": "smtp", "handoff": "lmtp", "download": "pop3", "folders": "imap", "why-postfix": "small",
         "compatible": "command"}


@pytest.fixture(scope="module")
def lab01():
    """One session for the module (a networked lab): each test resets the step it needs."""
    from classroom.session import open_session

    from .conftest import LEARNER

    session = open_session("how-mail-works", LEARNER)
    yield session
    for machine in session.machines():
        machine.destroy()
    network = session.network()
    if network is not None:
        network.destroy()


def answer(session, answers):
    sh(session, f"mkdir -p /root/answers && cat > /root/answers/roles-quiz.json <<'EOF'\n{json.dumps(answers)}\nEOF")


def smtp(session, *lines, server="mx1.remote.test"):
    quoted = " ".join("'" + line.replace("'", "'\\''") + "'" for line in lines)
    return sh(session, f"printf '%s\\r\\n' {quoted} | nc -w 10 {server} 25")


def conversation(*data, sender="root@example.test", rcpt="postmaster@remote.test"):
    return ("HELO mail.example.test", f"MAIL FROM:<{sender}>", f"RCPT TO:<{rcpt}>", "DATA", *data, ".", "QUIT")


def test_a_mixed_up_role_is_named_without_giving_the_answer(lab01):
    """Does choosing MTA for Thunderbird say what an MTA is, without naming the MUA?"""
    lab01.reset("roles-quiz")
    answer(lab01, {**MODEL, "writer": "mta"})
    item = first_problem(lab01, "roles-quiz")
    assert item.name == "every_answer_is_right"
    assert "10 of 11 right" in item.detail and "question 1" in item.detail
    assert "An MTA is a server program" in item.hint and "MUA" not in item.hint


def test_several_wrong_protocols_show_the_first_and_count_the_rest(lab01):
    lab01.reset("roles-quiz")
    answer(lab01, {**MODEL, "handoff": "smtp", "download": "imap"})
    item = first_problem(lab01, "roles-quiz")
    assert item.name == "every_answer_is_right"
    assert item.hint.startswith("Question 7:") and "1 more answers" in item.hint
    assert "LMTP" not in item.hint


def test_unanswered_questions_are_listed(lab01):
    lab01.reset("roles-quiz")
    answer(lab01, {k: v for k, v in MODEL.items() if k not in ("relay", "folders")})
    item = first_problem(lab01, "roles-quiz")
    assert item.name == "every_question_has_an_answer" and "question 6, 9" in item.detail


def test_a_hand_edited_answers_file_is_explained(lab01):
    lab01.reset("roles-quiz")
    sh(lab01, "echo 'writer = MUA' > /root/answers/roles-quiz.json")
    item = first_problem(lab01, "roles-quiz")
    assert item.name == "every_question_has_an_answer" and "Press Submit" in item.hint


def test_no_empty_line_after_the_headers(lab01):
    lab01.reset("smtp-by-hand")
    smtp(lab01, *conversation("From: root@example.test", "Subject: hi", "Hello Bob"))
    item = first_problem(lab01, "smtp-by-hand")
    assert item.name == "your_message_has_headers_and_a_text"
    assert "no empty line" in item.detail and "empty line ends the headers" in item.hint


def test_envelope_only_without_headers(lab01):
    """A learner who thinks MAIL FROM is the From: header: the hint explains envelope and headers."""
    lab01.reset("smtp-by-hand")
    smtp(lab01, *conversation("Hello Bob, just text."))
    item = first_problem(lab01, "smtp-by-hand")
    assert item.name == "your_message_has_headers_and_a_text"
    assert "From:" in item.detail and "envelope" in item.hint


def test_quit_before_the_final_dot_stores_nothing(lab01):
    """The server stores a message only after the lone dot: QUIT before it leaves nothing."""
    lab01.reset("smtp-by-hand")
    smtp(lab01, "HELO mail.example.test", "MAIL FROM:<root@example.test>", "RCPT TO:<postmaster@remote.test>",
         "DATA", "From: root@example.test", "Subject: hi", "", "Hello", "QUIT")
    item = first_problem(lab01, "smtp-by-hand")
    assert item.name == "mx1_received_a_message_from_your_machine"
    assert "stored no message" in item.detail and "only a dot" in item.hint


def test_headers_with_only_an_empty_line_of_text(lab01):
    lab01.reset("smtp-by-hand")
    smtp(lab01, *conversation("From: root@example.test", "Subject: hi", "", ""))
    item = first_problem(lab01, "smtp-by-hand")
    assert item.name == "your_message_has_headers_and_a_text" and "no text" in item.detail


def test_the_null_sender_is_only_for_bounces(lab01):
    lab01.reset("smtp-by-hand")
    smtp(lab01, *conversation("From: root@example.test", "Subject: hi", "", "Hello", sender=""))
    item = first_problem(lab01, "smtp-by-hand")
    assert item.name == "the_envelope_names_a_sender" and "bounces" in item.hint


def test_talking_to_the_other_server(lab01):
    lab01.reset("smtp-by-hand")
    smtp(lab01, *conversation("From: root@example.test", "Subject: hi", "", "Hello"), server="mx2.remote.test")
    item = first_problem(lab01, "smtp-by-hand")
    assert item.name == "mx1_received_a_message_from_your_machine"
    assert "mx2.remote.test stored your message" in item.detail


def test_swaks_is_not_speaking_smtp_yourself(lab01):
    lab01.reset("smtp-by-hand")
    sh(lab01, "swaks --server mx1.remote.test --to postmaster@remote.test --from root@example.test >/dev/null")
    item = first_problem(lab01, "smtp-by-hand")
    assert item.name == "you_spoke_smtp_yourself" and "swaks" in item.detail


@pytest.mark.parametrize("text, check, words", [
    pytest.param("mx1.remote.test 10\nmx2.remote.test 20\n", "the_hosts_are_the_mail_servers", "preference first",
                 id="host-first"),
    pytest.param("10 198.51.100.10\n20 198.51.100.20\n", "the_hosts_are_the_mail_servers", "not an address",
                 id="addresses"),
    pytest.param("10 mx1.remote.test\n", "the_hosts_are_the_mail_servers", "a line for each", id="one-host"),
    pytest.param("10 mx1.remote.test\n20 mx2.remote.test\n30 ns.example.test\n", "the_hosts_are_the_mail_servers",
                 "and only those", id="extra-host"),
    pytest.param("20 mx1.remote.test\n10 mx2.remote.test\n", "the_preferences_are_right", "keep them together",
                 id="swapped-preferences"),
    pytest.param("20 mx2.remote.test.\n10 mx1.remote.test.\n", "the_lines_are_in_the_order_servers_are_tried",
                 "lowest preference first", id="backup-first"),
    pytest.param("10 mx1.remote.test\n20 mx2.remote.test\n20 mx2.remote.test\n", "the_hosts_are_the_mail_servers",
                 "each mail server once", id="twice"),
])
def test_wrong_mx_answers(lab01, text, check, words):
    lab01.reset("mx-lookup")
    sh(lab01, f"printf '{text}' > /root/answers/mx.txt")
    item = first_problem(lab01, "mx-lookup")
    assert item.name == check and words in item.hint, (item.detail, item.hint)


def test_a_copied_conversation_does_not_know_the_greeting_word(lab01):
    """Issue 16: the notebook's old worked example, sent as it was (`printf ... | nc`), is a conversation
    copied from elsewhere: it never read mx1's greeting, so its Subject lacks the greeting's word."""
    lab01.reset("smtp-by-hand")
    smtp(lab01, *conversation("From: root@example.test", "To: postmaster@remote.test", "Subject: SMTP by hand", "",
                              "Hello Bob! I typed this message myself."))
    item = first_problem(lab01, "smtp-by-hand")
    assert item.name == "your_subject_repeats_the_greeting_word"
    assert "named the word" in item.detail and "Subject: SMTP by hand" in item.detail and "greeting" in item.hint
