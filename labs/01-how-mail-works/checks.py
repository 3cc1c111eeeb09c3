"""Checks of lab 01, how-mail-works. Everything is read from the live lab: the answers the learner
left in the machine (/root/answers), what the remote server mx1 recorded, and the lab DNS's real
MX records."""
import re
from pathlib import Path

from grader import Fail, _, check, say
from grader import quiz as quizzes

QUIZ = quizzes.load(Path(__file__).with_name("quiz") / "roles-quiz.toml")
MACHINE_ADDRESS = "192.0.2.10"
SERVER, SERVER_NAME = "mx1", "mx1.remote.test"
MX_DOMAIN = "remote.test"
MX_FILE = "/root/answers/mx.txt"
ADDRESS = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


# --- roles-quiz ----------------------------------------------------------------------------

@check(step="roles-quiz", title=_("You submitted your answers"),
       hint=_("Choose an answer for each question in the quiz above, then press Submit."))
def you_submitted_the_quiz(host):
    answers = host.file(QUIZ.answers_file)
    if not answers.is_file:
        raise Fail(_("{path} does not exist yet", path=QUIZ.answers_file))
    return _("{path} holds your answers", path=QUIZ.answers_file)


def read_answers(host):
    try:
        return quizzes.parse_answers(host.file(QUIZ.answers_file).text)
    except ValueError as exc:
        raise Fail(_("{path} is not the quiz's answer file ({why})", path=QUIZ.answers_file, why=say(exc)),
                   hint=_("Press Submit in the quiz again: it writes the file in the right form.")) from None


@check(step="roles-quiz", title=_("Every question has an answer"),
       hint=_("Choose an answer for each question, then press Submit again."))
def every_question_has_an_answer(host):
    graded = quizzes.grade(QUIZ, read_answers(host))
    if graded.not_an_option:
        number, said = graded.not_an_option[0]
        raise Fail(_("question {number}: {said} is not one of its options", number=number, said=said),
                   hint=_("Press Submit in the quiz again: it writes the file in the right form."))
    if graded.unanswered:
        raise Fail(_("no answer yet for question {numbers}", numbers=", ".join(map(str, graded.unanswered))))
    return _("all {count} questions have an answer", count=len(QUIZ.questions))


@check(step="roles-quiz", title=_("Every answer is right"),
       hint=_("Look again at the picture of a message's way in the notebook, then change your answers and "
              "press Submit."))
def every_answer_is_right(host):
    graded = quizzes.grade(QUIZ, read_answers(host))
    if graded.wrong:
        first = graded.wrong[0]
        others = len(graded.wrong) - 1
        detail = _("{right} of {total} right; question {number} is not: you chose {chosen}", right=len(graded.right),
                   total=len(QUIZ.questions), number=first.number, chosen=first.chosen_text)
        if others:
            raise Fail(detail, hint=_("Question {number}: {mixup} ({others} more answers to look at.)",
                                      number=first.number, mixup=first.hint, others=others))
        raise Fail(detail, hint=_("Question {number}: {mixup}", number=first.number, mixup=first.hint))
    return _("all {count} answers are right", count=len(QUIZ.questions))


GREETING_WORD = re.compile(r"put the word '([a-z]+)' in your Subject")


# --- smtp-by-hand --------------------------------------------------------------------------

def yours(host, server):
    """What `server` stored from the learner's machine, oldest first."""
    return [m for m in host.world.received(server) if m.client_address == MACHINE_ADDRESS]


def your_latest(host):
    found = yours(host, SERVER)
    if not found:
        raise Fail(_("{server} has stored no message from your machine", server=SERVER_NAME))
    return found[-1]


@check(step="smtp-by-hand", title=_("{server} received a message from your machine", server=SERVER_NAME),
       hint=_("In a Terminal, run `nc -C {server} 25` and type HELO, MAIL FROM, RCPT TO and DATA as the notebook "
              "shows. End the message with a line that holds only a dot: the server stores it only then.",
              server=SERVER_NAME))
def mx1_received_a_message_from_your_machine(host):
    found = yours(host, SERVER)
    if not found:
        if yours(host, "mx2"):
            raise Fail(_("mx2.remote.test stored your message, but {server} has none", server=SERVER_NAME),
                       hint=_("This step asks you to talk to {server}: connect with `nc -C {server} 25`.",
                              server=SERVER_NAME))
        raise Fail(_("{server} has stored no message from your machine ({address})", server=SERVER_NAME,
                     address=MACHINE_ADDRESS))
    latest = found[-1]
    return _("{server} stored message {queue_id} from <{sender}> to {rcpts}", server=SERVER_NAME,
             queue_id=latest.queue_id, sender=latest.mail_from, rcpts=", ".join(latest.rcpt_tos))


@check(step="smtp-by-hand", title=_("The envelope names a sender"),
       hint=_("Give a sender in the envelope: `MAIL FROM:<root@example.test>`. The empty sender <> is only "
              "for bounces."))
def the_envelope_names_a_sender(host):
    latest = your_latest(host)
    if not latest.mail_from:
        raise Fail(_("your last message had MAIL FROM:<> (the null sender)"))
    return _("MAIL FROM:<{sender}>", sender=latest.mail_from)


@check(step="smtp-by-hand", title=_("Your message has headers and a text"),
       hint=_("After DATA, write header lines (From:, To:, Subject:), then one empty line, then your text, "
              "and a line with only a dot."))
def your_message_has_headers_and_a_text(host):
    latest = your_latest(host)
    names = {name.lower() for name, _value in latest.headers}
    missing = [name for name in ("From", "Subject") if name.lower() not in names]
    text = latest.body.strip()
    lines = [line for line in latest.raw.replace("\r\n", "\n").split("\n") if line.strip()]
    if names and not text and len(lines) > len(latest.headers):
        raise Fail(_("your last message has no empty line between its headers and its text"),
                   hint=_("An empty line ends the headers. Without it, your text is taken for more headers "
                          "(or lost): leave one empty line after Subject:."))
    if missing:
        raise Fail(_("your last message has no {names} header", names=" or ".join(f"{n}:" for n in missing)),
                   hint=_("MAIL FROM and RCPT TO are the envelope, for the servers. The reader sees the headers "
                          "you write after DATA: start with `From: root@example.test` and `Subject: ...`."))
    if not text:
        raise Fail(_("your last message has headers but no text"))
    return _("Subject: {subject}; {size} characters of text", subject=latest.subject or "", size=len(text))


@check(step="smtp-by-hand", title=_("You spoke SMTP yourself"),
       hint=_("Type the conversation yourself with `nc -C {server} 25` (or telnet): that is the point of "
              "this step.", server=SERVER_NAME))
def you_spoke_smtp_yourself(host):
    latest = your_latest(host)
    mailer = latest.header("X-Mailer") or ""
    if "swaks" in mailer.lower():
        raise Fail(_("your last message was sent by a program: X-Mailer: {mailer}", mailer=mailer))
    said = [line.strip() for side, line in (latest.transcript or []) if side == "client" and line.strip()]
    return _("you said: {commands}", commands=" / ".join(said[:3]) or "?")


@check(step="smtp-by-hand", title=_("Your Subject repeats the word of the server's greeting"),
       hint=_("Read {server}'s first line, its greeting (`220 ...`): it names a word, new for each connection. "
              "Put that word in your `Subject:` line, in the same conversation.", server=SERVER_NAME))
def your_subject_repeats_the_greeting_word(host):
    """The word is new for every connection: only someone who read the server's answer can know it,
    so a conversation copied from anywhere cannot pass."""
    latest = your_latest(host)
    greeting = next((line for side, line in (latest.transcript or []) if side == "server" and line.startswith("220 ")),
                    "")
    match = GREETING_WORD.search(greeting)
    if match is None:
        raise Fail(_("{server} kept no greeting for your last message", server=SERVER_NAME))
    word, subject = match.group(1), latest.subject or ""
    if word not in subject.lower():
        raise Fail(_("the greeting of that connection named the word '{word}'; your Subject: {subject}", word=word,
                     subject=subject or _("(none)")))
    return _("the greeting named '{word}'; your Subject: {subject}", word=word, subject=subject)


# --- mx-lookup -----------------------------------------------------------------------------

@check(step="mx-lookup", title=_("You wrote your answer in {path}", path=MX_FILE),
       hint=_("Look up the MX records with `dig MX {domain}`, then write one line per mail server into {path}, "
              "like `10 mx.example.org`.", domain=MX_DOMAIN, path=MX_FILE))
def you_wrote_the_answer_file(host):
    answer = host.file(MX_FILE)
    if not answer.is_file or not answer.text.strip():
        raise Fail(_("{path} does not exist yet or is empty", path=MX_FILE))
    return _("{path}: {lines}", path=MX_FILE, lines=" / ".join(answer.text.strip().splitlines()[:4]))


def read_mx_answer(host):
    """[(preference, host)] in the file's order; Fail with a hint naming the line that is wrong."""
    rows = []
    for number, line in enumerate(host.file(MX_FILE).text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) == 2 and words[1].isdigit() and not words[0].isdigit():
            raise Fail(_("line {number}: {line}", number=number, line=line.strip()),
                       hint=_("Write the preference first, then the host name: `20 mx.example.org`."))
        if len(words) != 2 or not words[0].isdigit():
            raise Fail(_("line {number}: {line}", number=number, line=line.strip()),
                       hint=_("Each line holds a preference (a number) and a host name, e.g. `10 mx.example.org`."))
        name = words[1].rstrip(".").lower()
        if ADDRESS.match(name):
            raise Fail(_("line {number}: {line}", number=number, line=line.strip()),
                       hint=_("An MX record names a host, not an address: write the host name that dig shows."))
        rows.append((int(words[0]), name))
    return rows


@check(step="mx-lookup", title=_("The hosts are {domain}'s mail servers", domain=MX_DOMAIN),
       hint=_("Write down every host that `dig MX {domain}` shows, and only those.", domain=MX_DOMAIN))
def the_hosts_are_the_mail_servers(host):
    written = read_mx_answer(host)
    real = host.world.resolve_mx(MX_DOMAIN)
    real_hosts = {name for _pref, name in real}
    wrote = [name for _pref, name in written]
    extra = [name for name in wrote if name not in real_hosts]
    if extra:
        raise Fail(_("{name} is not a mail server of {domain}", name=extra[0], domain=MX_DOMAIN))
    missing = real_hosts - set(wrote)
    if missing:
        raise Fail(_("you wrote {wrote} of the {count} mail servers of {domain}", wrote=len(set(wrote)),
                     count=len(real_hosts), domain=MX_DOMAIN),
                   hint=_("dig shows more than one MX record for {domain}: write a line for each.", domain=MX_DOMAIN))
    if len(wrote) != len(set(wrote)):
        raise Fail(_("a host is written twice"), hint=_("Write each mail server once."))
    return _("the hosts are {hosts}", hosts=", ".join(sorted(real_hosts)))


@check(step="mx-lookup", title=_("The preferences are right"),
       hint=_("Copy each host's preference: in `dig MX` answers it is the number just before the host name."))
def the_preferences_are_right(host):
    written = dict((name, pref) for pref, name in read_mx_answer(host))
    real = dict((name, pref) for pref, name in host.world.resolve_mx(MX_DOMAIN))
    wrong = [name for name in real if written.get(name) != real[name]]
    if wrong:
        if sorted(written.values()) == sorted(real.values()):
            raise Fail(_("the preferences are swapped between the hosts"),
                       hint=_("Each number belongs to the host on its own line of dig's answer: keep them together."))
        raise Fail(_("you wrote {pref} for {name}", pref=written.get(wrong[0]), name=wrong[0]))
    return _("preferences: {pairs}", pairs=", ".join(f"{pref} {name}" for name, pref in sorted(real.items(), key=lambda i: i[1])))


@check(step="mx-lookup", title=_("The lines are in the order a sending server tries them"),
       hint=_("A sending server tries the lowest preference first, the next one only when that fails: put the "
              "lines in that order."))
def the_lines_are_in_the_order_servers_are_tried(host):
    written = read_mx_answer(host)
    if [pref for pref, _name in written] != sorted(pref for pref, _name in written):
        raise Fail(_("your first line is {line}", line=f"{written[0][0]} {written[0][1]}"))
    return _("tried first: {name}", name=written[0][1])
