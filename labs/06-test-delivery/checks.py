"""Checks of lab 06, test-delivery: what the learner sent, found and fixed, proven from the log,
the mailboxes and the queue."""
import re

from grader import Fail, _, check
from grader.liveconf import running_or_not
from grader.tables import freshness, parse_tables

DOMAIN = "example.test"
ANSWERS = "/root/answers"
QUEUE_ID_ANSWER = f"{ANSWERS}/queue-id.txt"
REASON_ANSWER = f"{ANSWERS}/bounce-reason.txt"
# The messages setup.sh planted, by their Message-Id.
LUNCH = "lunch-friday.4711@example.test"
QUARTERLY = "quarterly-report.0930@example.test"
CONTRACT = "contract-draft.1200@example.test"
CAROL = f"carol@{DOMAIN}"
CLIENT_HEADERS = ("User-Agent", "X-Mailer")

_QUEUE_ID = re.compile(r"^[0-9A-Za-z]{6,20}$")


# --- shared probes --------------------------------------------------------------------------

def _queue_ids_by_message_id(lines):
    return {line.queue_id: line.text[len("message-id="):].strip("<>") for line in lines
            if line.program.endswith("/cleanup") and line.queue_id and line.text.startswith("message-id=")}


def _queue_ids_of(lines, message_id):
    return [qid for qid, mid in _queue_ids_by_message_id(lines).items() if mid == message_id]


def _mailboxes(host):
    try:
        names = host.backend.listdir("/var/mail")
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(n for n in names if re.fullmatch(r"[a-z_][a-z0-9_.-]*", n))


def _with_subject(host, user, subject):
    wanted = subject.strip().lower()
    found = [m for m in host.mailbox(user).messages() if (m.subject or "").strip().lower() == wanted]
    return found[-1] if found else None


def _how_it_came_in(lines, message):
    """("pickup", line) for mail handed to sendmail, ("smtpd", line) for SMTP, (None, "") if unknown."""
    qids = _queue_ids_of(lines, message.message_id or "")
    for line in lines:
        if line.queue_id in qids and line.program.endswith(("/pickup", "/smtpd")):
            return line.program.rsplit("/", 1)[-1], line.raw
    return None, ""


def _find_sent_message(host, subject):
    """Alice's message with this Subject, or Fail saying where it went instead."""
    message = _with_subject(host, "alice", subject)
    if message is not None:
        return message
    elsewhere = [user for user in _mailboxes(host) if user != "alice" and _with_subject(host, user, subject)]
    if elsewhere:
        raise Fail(_("a message with Subject: {subject} is in /var/mail/{user}, not in /var/mail/alice",
                     subject=subject, user=elsewhere[0]),
                   hint=_("Send it to alice (alice@{domain}).", domain=DOMAIN))
    raise Fail(_("/var/mail/alice has no message with Subject: {subject}", subject=subject))


# --- send-tools -----------------------------------------------------------------------------

SENDMAIL_SUBJECT = "Test 1: sendmail"
MAIL_SUBJECT = "Test 2: mail"
SWAKS_SUBJECT = "Test 3: swaks"


@check(step="send-tools", title=_("A message sent with sendmail reached alice"),
       hint=_("Pipe a message with a Subject header into sendmail: "
              "`printf 'Subject: Test 1: sendmail\\n\\nHello\\n' | sendmail alice`."))
def sendmail_message_reached_alice(host):
    message = _find_sent_message(host, SENDMAIL_SUBJECT)
    how, line = _how_it_came_in(host.maillog().lines(), message)
    if how == "smtpd":
        raise Fail(_("it came in over SMTP: {line}", line=line),
                   hint=_("This step wants the sendmail command itself (it hands mail to Postfix's pickup, not SMTP)."))
    return _("{source}, handed in by sendmail: {line}", source=message.source, line=line or "-")


@check(step="send-tools", title=_("A message sent with mail reached alice"),
       hint=_("Use the mail client: `echo Hello | mail -s 'Test 2: mail' alice` (install it with "
              "`apt-get install -y mailutils` if `mail` is missing)."))
def mail_message_reached_alice(host):
    message = _find_sent_message(host, MAIL_SUBJECT)
    client = next((f"{name}: {message.header(name)}" for name in CLIENT_HEADERS if message.header(name)), None)
    how, line = _how_it_came_in(host.maillog().lines(), message)
    if how == "smtpd":
        raise Fail(_("it came in over SMTP: {line}", line=line))
    if client is None:
        raise Fail(_("the message has no User-Agent header: it was not written by a mail client"),
                   hint=_("Send it with `mail -s 'Test 2: mail' alice`, not with sendmail: a mail client "
                          "writes the headers for you and names itself in User-Agent."))
    return _("{source}: {client}", source=message.source, client=client)


@check(step="send-tools", title=_("A message sent with swaks over SMTP reached alice"),
       hint=_("swaks speaks SMTP to a server: `swaks --server 127.0.0.1 --to alice@{domain} "
              "--header 'Subject: Test 3: swaks'`.", domain=DOMAIN))
def swaks_message_reached_alice(host):
    message = _find_sent_message(host, SWAKS_SUBJECT)
    how, line = _how_it_came_in(host.maillog().lines(), message)
    if how == "pickup":
        raise Fail(_("it was handed in with sendmail: {line}", line=line),
                   hint=_("This one must travel over SMTP: swaks connects to port 25 "
                          "(`swaks --server 127.0.0.1 ...`), and Postfix's smtpd takes it."))
    if how is None:
        received = message.header("Received") or ""
        if "ESMTP" not in received and "SMTP" not in received:
            raise Fail(_("neither the log nor its Received header shows it came over SMTP: {received}",
                         received=received or "-"))
        line = received
    return _("{source}, taken by smtpd: {line}", source=message.source, line=line)


# --- trace-log ------------------------------------------------------------------------------

@check(step="trace-log", title=_("The queue id is written in {path}", path=QUEUE_ID_ANSWER),
       hint=_("Find the queue id of bob's message \"Lunch on Friday?\" in /var/log/mail.log and write it: "
              "`echo QUEUEID > {path}`.", path=QUEUE_ID_ANSWER))
def queue_id_answer_is_written(host):
    answer = host.file(QUEUE_ID_ANSWER)
    if not answer.is_file or not answer.text.strip():
        raise Fail(_("{path} does not exist or is empty", path=QUEUE_ID_ANSWER))
    return _("{path} says {text}", path=QUEUE_ID_ANSWER, text=answer.text.strip()[:80])


@check(step="trace-log", title=_("It is the queue id of \"Lunch on Friday?\""),
       hint=_("Look at the message in /var/mail/alice for its Message-Id, then "
              "`grep 'message-id=<THAT-ID>' /var/log/mail.log`: the queue id stands just before it."))
def queue_id_is_the_lunch_message(host):
    text = host.file(QUEUE_ID_ANSWER).text.strip()
    answer = text.split()[0].rstrip(":") if text else ""
    lines = host.maillog().lines()
    wanted = _queue_ids_of(lines, LUNCH)
    if not wanted:
        raise Fail(_("the log no longer holds the lines of message <{id}>", id=LUNCH),
                   hint=_("/var/log/mail.log lost its earlier lines: reset this step to get them back."))
    if answer in wanted:
        story = [line.text for line in lines if line.queue_id == answer]
        return _("{qid} is right: {story}", qid=answer, story=" | ".join(story))
    if "@" in answer:
        raise Fail(_("{path} holds {answer}, a Message-Id, not a queue id", path=QUEUE_ID_ANSWER, answer=answer),
                   hint=_("You are one step away: find the log line with that message-id; the queue id is the "
                          "code just before it (like 4F2A81765A0)."))
    if answer.upper() in {q.upper() for q in wanted}:
        raise Fail(_("{answer}: the letters are right but not their case", answer=answer),
                   hint=_("Queue ids are case-sensitive: copy it exactly as the log writes it."))
    other = _queue_ids_by_message_id(lines).get(answer)
    if other is not None:
        about = next((line.text for line in lines if line.queue_id == answer and line.text.startswith("from=")), "")
        raise Fail(_("{answer} is the queue id of another message, <{id}> ({about})", answer=answer, id=other,
                     about=about or "-"),
                   hint=_("That is another message. Find \"Lunch on Friday?\" in /var/mail/alice and follow "
                          "its Message-Id into the log."))
    if not _QUEUE_ID.match(answer):
        raise Fail(_("{path} holds {answer}, which does not look like a queue id", path=QUEUE_ID_ANSWER,
                     answer=repr(text[:80])))
    raise Fail(_("no line of the log has the queue id {answer}", answer=answer))


# --- bounce ---------------------------------------------------------------------------------

def _learners_carol_bounces(lines):
    """The outcome lines of messages to carol that bounced, except the grader's own tests."""
    by_qid = _queue_ids_by_message_id(lines)
    found = []
    for line in lines:
        if line.queue_id and line.text.startswith("to=<") and "status=bounced" in line.text:
            fields = line.fields
            if CAROL in (fields.get("to", "").lower(), fields.get("orig_to", "").lower()) \
                    and not by_qid.get(line.queue_id, "").startswith("maillab-"):
                found.append(line)
    return found


@check(step="bounce", title=_("A message to carol bounced"),
       hint=_("Send carol a message: `echo Hello | mail -s 'Welcome Carol' carol`, then read the last lines "
              "of /var/log/mail.log."))
def a_message_to_carol_bounced(host):
    bounced = _learners_carol_bounces(host.maillog().lines())
    if not bounced:
        raise Fail(_("the log shows no message to {address} that bounced", address=CAROL))
    return _("{line}", line=bounced[-1].raw)


@check(step="bounce", title=_("The sender got a bounce message"),
       hint=_("Send from an address that can receive mail (as root, or `mail` as alice), not with an empty "
              "sender: the bounce message goes back to the sender."))
def the_sender_got_a_bounce_message(host):
    lines = host.maillog().lines()
    bounced = {line.queue_id for line in _learners_carol_bounces(lines)}
    notices = {}
    for line in lines:
        if line.queue_id in bounced and "sender non-delivery notification:" in line.text:
            notices[line.text.rsplit(":", 1)[1].strip()] = line.queue_id
    delivered = [line for line in lines if line.queue_id in notices and "status=sent" in line.text]
    if not delivered:
        if notices:
            raise Fail(_("a bounce message was made ({qids}) but not delivered", qids=", ".join(notices)),
                       hint=_("Read the log lines of the bounce message's queue id: its recipient is the "
                              "original sender."))
        raise Fail(_("no \"sender non-delivery notification\" follows the bounce of {address}", address=CAROL))
    line = delivered[-1]
    return _("bounce message {qid}: to=<{to}>, delivered", qid=line.queue_id, to=line.fields.get("to", "?"))


def _normalise(text):
    return re.sub(r"\s+", " ", text.replace('"', "").replace("'", "")).strip().lower()


@check(step="bounce", title=_("The reason is written in {path}", path=REASON_ANSWER),
       hint=_("Copy the reason from the log line with status=bounced (the words in parentheses) into {path}.",
              path=REASON_ANSWER))
def bounce_reason_is_written(host):
    answer = host.file(REASON_ANSWER)
    if not answer.is_file or not answer.text.strip():
        raise Fail(_("{path} does not exist or is empty", path=REASON_ANSWER))
    said = _normalise(answer.text)
    reasons = {_normalise(re.sub(r"^.*status=bounced \((.*)\)\s*$", r"\1", line.text))
               for line in _learners_carol_bounces(host.maillog().lines())}
    if any(reason and reason in said for reason in reasons) or "unknown user" in said:
        return _("{path} says {text}", path=REASON_ANSWER, text=answer.text.strip()[:120])
    if "bounced" in said and len(said) < 20:
        raise Fail(_("{path} says {text}: that is the status, not its reason", path=REASON_ANSWER,
                     text=answer.text.strip()[:80]),
                   hint=_("The reason is in the parentheses after status=bounced."))
    if re.search(r"\b5\.\d+\.\d+\b", said) and len(said) < 20:
        raise Fail(_("{path} says {text}: that is the status code, not its reason", path=REASON_ANSWER,
                     text=answer.text.strip()[:80]),
                   hint=_("5.1.1 says \"bad destination mailbox\" in general; write the words Postfix gives, "
                          "in the parentheses after status=bounced."))
    raise Fail(_("{path} says {text}, but the log gives {reasons}", path=REASON_ANSWER,
                 text=answer.text.strip()[:80], reasons=" / ".join(sorted(reasons)) or "-"))


@check(step="bounce", title=_("Mail for carol is delivered now"),
       hint=_("Carol has no account yet: send her mail to alice meanwhile. Add `carol: alice` to /etc/aliases "
              "and run `newaliases` (or create her account with `useradd -m carol`)."))
def mail_for_carol_is_delivered_now(host):
    delivery = host.send_tagged("", CAROL, subject="MailLab check: mail for carol")
    if not delivery.complete:
        raise Fail(delivery.summary(), hint=running_or_not(
            host, stopped=_("Is Postfix running? `service postfix start`, then check again."),
            running=_("Postfix runs, but the message was not finished in time: `postqueue -p` shows whether it "
                      "waits in the queue, and its lines in /var/log/mail.log say why. After a change to main.cf, "
                      "`postfix reload`.")))
    outcome = delivery.result_for(CAROL)
    if not delivery.delivered:
        stale = [f for f in map(lambda t: freshness(host, t), parse_tables(host.postconf("alias_maps", expand=True)))
                 if not f.ok]
        if stale:
            raise Fail(delivery.summary(),
                       hint=_("{path} is newer than {built}: run `newaliases`.", path=stale[0].table.name,
                              built=stale[0].table.built_path))
        raise Fail(delivery.summary())
    user = outcome.to.split("@", 1)[0] if outcome else "?"
    if outcome is None or outcome.relay != "local" or delivery.message_id not in host.mailbox(user):
        raise Fail(_("the log says {summary}, but /var/mail/{user} does not hold the message",
                     summary=delivery.summary(), user=user))
    return _("{summary}; found in /var/mail/{user}", summary=delivery.summary(), user=user)


# --- queue ----------------------------------------------------------------------------------

def _where_in_queue(host, message_id):
    """(queue ids of the message, {queue_id: queue name} of those still queued)."""
    qids = _queue_ids_of(host.maillog().lines(), message_id)
    queued = {m.queue_id: m.queue_name for m in host.queue() if m.queue_id in qids}
    return qids, queued


def _gone(host, message_id, qids):
    """Fail for a planted message that is neither queued nor where it should be."""
    said = [line.text for line in host.maillog().lines() if line.queue_id in qids][-1:]
    raise Fail(_("message <{id}> is no longer in the queue; the log's last word on it: {line}", id=message_id,
                 line=said[0] if said else "-"),
               hint=_("The message is gone (deleted with postsuper -d?). Reset this step to get it back."))


@check(step="queue", title=_("The held \"Quarterly report\" is released"),
       hint=_("`postqueue -p` marks a held message with `!` after its queue id. Release it: `postsuper -H QUEUEID`."))
def quarterly_report_is_released(host):
    qids, queued = _where_in_queue(host, QUARTERLY)
    if not qids:
        raise Fail(_("the log no longer names message <{id}>", id=QUARTERLY),
                   hint=_("/var/log/mail.log lost its earlier lines: reset this step to get them back."))
    held = [qid for qid, name in queued.items() if name == "hold"]
    if held:
        raise Fail(_("{qid} (Subject: Quarterly report) is still in the hold queue", qid=held[0]))
    return _("{qid} is out of the hold queue", qid=qids[-1])


@check(step="queue", title=_("The \"Quarterly report\" reached alice"), within=2,
       hint=_("A released message waits in the deferred queue for the next queue run (up to 5 minutes). "
              "Deliver it now: `postqueue -i QUEUEID` (that message) or `postqueue -f` (the whole queue)."))
def quarterly_report_reached_alice(host):
    if QUARTERLY in host.mailbox("alice"):
        return _("/var/mail/alice holds <{id}>", id=QUARTERLY)
    qids, queued = _where_in_queue(host, QUARTERLY)
    if queued:
        qid, name = next(iter(queued.items()))
        raise Fail(_("{qid} waits in the {queue} queue", qid=qid, queue=name))
    _gone(host, QUARTERLY, qids)


@check(step="queue", title=_("Mail for partner.test is on hold"),
       hint=_("partner.test cannot be reached this week: hold its mail so Postfix stops trying: "
              "`postsuper -h QUEUEID` (find it with `postqueue -p`)."))
def partner_mail_is_on_hold(host):
    qids, queued = _where_in_queue(host, CONTRACT)
    held = [qid for qid, name in queued.items() if name == "hold"]
    if held:
        return _("{qid} (to legal@partner.test) is in the hold queue", qid=held[0])
    if queued:
        qid, name = next(iter(queued.items()))
        raise Fail(_("{qid} (to legal@partner.test) is in the {queue} queue", qid=qid, queue=name))
    _gone(host, CONTRACT, qids)


@check(step="bounce", title=_("Mail for carol from another computer is delivered"),
       hint=_("Mail for carol must also be taken from other computers, not only from sendmail inside: "
              "read what the server answered."))
def mail_for_carol_from_another_computer_is_delivered(host):
    """From a stranger's address over SMTP (grader.outside): carol's mail is taken, and reaches the
    mailbox her address now leads to (alice's through an alias, or her own), read from the host side."""
    from grader import outside

    if not outside.can_send(host):
        return _("no network to send from (a test machine)")
    unknown = _("Postfix refuses carol over SMTP: add `carol: alice` to /etc/aliases and run `newaliases` "
                "(or create her account with `useradd -m carol`).")
    sent = outside.require_taken(host, [CAROL], unknown_hint=unknown, subject="MailLab check: carol from outside")
    outcome = outside.settled_log(host, sent).result_for(CAROL)
    if outcome is None or outcome.status != "sent" or outcome.relay != "local":
        raise Fail(_("the server took carol's message from {client}, but the log says: {line}", client=sent.client,
                     line=outcome.describe() if outcome else _("no delivery status")))
    user = outcome.to.split("@", 1)[0].lower()
    return outside.require_in(host, sent, {f"/var/mail/{user}": lambda: host.mailbox(user)})
