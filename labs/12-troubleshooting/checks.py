"""Checks of lab 12, troubleshooting. The lab's setup planted five faults on a working server.
diagnose: the learner names them in /root/answers/diagnosis.txt (ids from the notebook's table).
repair: each fault is probed on its own (so progress shows), then mail from the outside client
to alice and to an alias must reach Dovecot, and alice must read it over IMAP and POP3."""
import re
import time
import uuid

from grader import Fail, _, check, joined
from grader import dovecot
from grader.host import build_message

MACHINE = "192.0.2.10"
DIAGNOSIS = "/root/answers/diagnosis.txt"
ALICE, ALICE_PASSWORD = "alice", "alice123"
ALICE_MAILDIR = "/home/alice/Maildir"  # her INBOX (mail_location = maildir:~/Maildir)
NEW_ALIAS = "support"
QUEUE_DIR = "/var/spool/postfix"
HELD_IDS = ("held-1.maillab@example.test", "held-2.maillab@example.test")

FAULTS = ("domain-not-local", "lmtp-socket", "aliases-not-rebuilt", "mail-on-hold", "maildir-permissions")
DECOYS = ("dns-mx", "dovecot-stopped", "postfix-stopped", "wrong-password", "disk-full")

# Where to look for a fault not yet named: a symptom and a place, never the fault's name.
LOOK_FOR = {
    "domain-not-local": _("Ask Postfix for its warnings: `postconf -n > /dev/null` prints them. Which domains "
                          "does it deliver itself (`postconf mydestination`)?"),
    "lmtp-socket": _("Read why deferred mail waits (`postqueue -p`, or `grep lmtp /var/log/mail.log`), then "
                     "compare mailbox_transport with where Dovecot listens (`doveconf -n service lmtp`)."),
    "aliases-not-rebuilt": _("Compare the times of /etc/aliases and /etc/aliases.db (`ls -l --time-style=full-iso "
                             "/etc/aliases*`), and ask the database: `postalias -q support hash:/etc/aliases`."),
    "mail-on-hold": _("Look at the queue: `postqueue -p`. What does a `!` after a queue id mean, and which line "
                      "of /var/log/mail.log says why?"),
    "maildir-permissions": _("Look at who owns alice's mail folder: `ls -la /home/alice/Maildir`, and at "
                             "/var/log/dovecot.log when Dovecot tries to deliver."),
}
# Why a decoy is not a fault of this machine, and how to see it.
NOT_A_FAULT = {
    "dns-mx": _("the MX record is fine: `dig MX example.test` answers mail.example.test"),
    "dovecot-stopped": _("Dovecot runs: `service dovecot status`"),
    "postfix-stopped": _("Postfix runs and listens on port 25: `postfix status`, `ss -ltn`"),
    "wrong-password": _("alice's password is still alice123 (`doveadm auth test alice alice123`)"),
    "disk-full": _("the disk has room: `df -h /`"),
}


# --- diagnose ---------------------------------------------------------------------------------

@check(step="diagnose", title=_("Your diagnosis is written"),
       hint=_("Write the ids of the faults you found into /root/answers/diagnosis.txt, one per line "
              "(the notebook's table lists the ids)."))
def your_diagnosis_is_written(host):
    answers = host.file(DIAGNOSIS)
    if not answers.is_file:
        raise Fail(_("{path} does not exist", path=DIAGNOSIS))
    named = _named(answers.text)
    if not named:
        raise Fail(_("{path} names no fault yet", path=DIAGNOSIS))
    return _("{path} names: {ids}", path=DIAGNOSIS, ids=", ".join(named))


@check(step="diagnose", title=_("Every id is one from the table"),
       hint=_("Use the ids exactly as the notebook's table spells them, one per line; lines starting with # "
              "are comments."))
def every_id_is_from_the_table(host):
    unknown = [word for word in _named(host.file(DIAGNOSIS).text) if word not in FAULTS + DECOYS]
    if unknown:
        raise Fail(_("not ids from the table: {words}", words=", ".join(unknown)))
    return _("every id is from the table")


@check(step="diagnose", title=_("No working part is named as a fault"),
       hint=_("Check each suspicion on the machine before you write it down."))
def no_working_part_is_named(host):
    wrong = [word for word in _named(host.file(DIAGNOSIS).text) if word in DECOYS]
    if wrong:
        raise Fail(_("`{id}` is not a fault of this machine: {why}", id=wrong[0], why=NOT_A_FAULT[wrong[0]]),
                   hint=_("Take `{id}` out of {path}, and keep looking for the real faults.", id=wrong[0],
                          path=DIAGNOSIS))
    return _("nothing that works is named")


@check(step="diagnose", title=_("All five faults are named"),
       hint=_("Keep looking: the mail log, `postqueue -p`, `postconf -n` and /var/log/dovecot.log tell the story."))
def all_five_faults_are_named(host):
    named = _named(host.file(DIAGNOSIS).text)
    missing = [fault for fault in FAULTS if fault not in named]
    if missing:
        raise Fail(_("you named {found} of {total} faults", found=len(FAULTS) - len(missing), total=len(FAULTS)),
                   hint=_("One fault is still unnamed. A place to look: {where}", where=LOOK_FOR[missing[0]]))
    return _("all {total} faults named", total=len(FAULTS))


# --- repair -----------------------------------------------------------------------------------

@check(step="repair", title=_("Every fault is repaired"),
       hint=_("Repair the faults you named, one by one; this check shows which are done."))
def every_fault_is_repaired(host):
    probes = (_domain_is_local, _lmtp_socket_agrees, _aliases_are_rebuilt, _nothing_is_held, _maildir_is_alices)
    fixed, broken = [], []
    for probe in probes:
        problem = probe(host)
        (broken if problem else fixed).append(problem or probe)
    if broken:
        done = ", ".join(str(_FIXED[p]) for p in fixed) or _("none yet")
        raise Fail(_("repaired {done_count} of {total} ({done}); still wrong: {problem}",
                     done_count=len(fixed), total=len(probes), done=done, problem=broken[0][0]),
                   hint=broken[0][1])
    return _("all {total} repaired: {done}", total=len(probes), done=", ".join(str(_FIXED[p]) for p in fixed))


@check(step="repair", title=_("The mail that was held reached alice"),
       hint=_("Release held mail with `postsuper -H ALL`, then `postqueue -f` delivers it now."))
def the_held_mail_reached_alice(host):
    missing = [mid for mid in HELD_IDS if not _dovecot_has_message_id(host, mid)]
    if missing:
        queued = [m for m in host.queue()]
        if queued:
            raise Fail(_("alice does not have <{id}> yet; the queue holds: {queue}", id=missing[0],
                         queue=joined("; ", (m.describe() for m in queued))))
        raise Fail(_("alice does not have <{id}>, and the queue is empty", id=missing[0]),
                   hint=_("The held messages are gone without reaching alice (deleted with `postsuper -d`?). "
                          "Reset the step to get them back, and release them with `postsuper -H` this time."))
    return _("alice has both messages that were held: {ids}", ids=", ".join(f"<{m}>" for m in HELD_IDS))


@check(step="repair", title=_("Mail from outside reaches alice and the {alias} alias", alias=NEW_ALIAS),
       hint=_("Follow the message in /var/log/mail.log by its queue id."))
def mail_from_outside_reaches_alice_and_the_alias(host):
    tag, delivery = _send_from_outside(host)
    for rcpt in (f"{ALICE}@example.test", f"{NEW_ALIAS}@example.test"):
        outcome = delivery.result_for(rcpt)
        if outcome is None:
            raise Fail(_("no delivery status for {rcpt} within 8 s: {summary}", rcpt=rcpt, summary=delivery.summary()),
                       hint=_("`postqueue -p` shows why it waits (a `!` means on hold)."))
        if outcome.status != "sent" or "postfix/lmtp" not in outcome.line:
            raise Fail(_("{queue_id}: {outcome}", queue_id=outcome.queue_id, outcome=outcome.describe()),
                       hint=_("Read the reason in parentheses: it names what is still wrong."))
    if not dovecot.find_tagged(host, ALICE, tag) or host.maildir(ALICE_MAILDIR).find_tag(tag) is None:
        raise Fail(_("Postfix handed it to Dovecot, but `doveadm search -u alice` does not find it"),
                   hint=_("Read /var/log/dovecot.log."))
    return _("from client.example: {summary}", summary=delivery.summary())


@check(step="repair", title=_("alice reads it over IMAP and POP3"),
       hint=_("Read what the server answered above, and /var/log/dovecot.log."))
def alice_reads_it_over_imap_and_pop3(host):
    tag, delivery = _send_from_outside(host, rcpts=(f"{ALICE}@example.test",))
    if delivery.status(f"{ALICE}@example.test") != "sent":
        raise Fail(_("the message was not delivered: {summary}", summary=delivery.summary()))
    seen = []
    for probe in (host.world.imap, host.world.pop3):
        got = probe(MACHINE, ALICE, ALICE_PASSWORD, tag=tag)
        if not got.logged_in or not got.found:
            raise Fail(_("{protocol} from client.example: {what}", protocol=got.protocol, what=got.describe()))
        seen.append(f"{got.protocol}: {got.messages}")
    return _("alice found the message over IMAP and POP3 (messages in INBOX: {counts})", counts=", ".join(seen))


# --- the five faults, each probed on its own: None when repaired, else (what is seen, hint) ---

def _domain_is_local(host):
    lint = host.postconf_lint()
    misspelt = [w.parameter for w in lint.unused if w.parameter and w.parameter.startswith("mydest")]
    destinations = host.postconf("mydestination", expand=True) or ""
    if "example.test" not in re.split(r"[\s,]+", destinations.lower()):
        seen = _("mydestination = {value}", value=destinations)
        if misspelt:
            seen = _("mydestination = {value}; postconf warns about an unused parameter {name}",
                     value=destinations, name=misspelt[0])
        return seen, _("Spell the key `mydestination` right in /etc/postfix/main.cf, so example.test is local "
                       "again; then `postfix reload`.")
    if misspelt:
        return (_("postconf still warns about an unused parameter {name}", name=misspelt[0]),
                _("Remove the misspelt line from /etc/postfix/main.cf."))
    return None


def _lmtp_socket_agrees(host):
    transport = host.postconf("mailbox_transport") or ""
    where = transport.split(":", 2)[2] if transport.count(":") >= 2 else ""
    path = where if where.startswith("/") else f"{QUEUE_DIR}/{where}"
    listeners = dovecot.lmtp_listeners(host)
    if not transport.startswith("lmtp:unix:") or path not in listeners:
        return (_("mailbox_transport = {transport}; Dovecot's LMTP listens on {listeners}",
                  transport=transport or _("(empty)"), listeners=", ".join(listeners) or _("(nothing)")),
                _("Make Postfix's mailbox_transport and Dovecot's unix_listener name the same socket, then "
                  "`doveadm reload`."))
    if host.backend.stat(path) is None:
        return (_("Dovecot is set to listen on {path}, but the socket is not there", path=path),
                _("Dovecot has not taken the change yet: `doveadm reload`."))
    return None


def _aliases_are_rebuilt(host):
    source, db = host.file("/etc/aliases"), host.file("/etc/aliases.db")
    # Postfix's own postalias (from the image, on a copy of the table): a stale or missing entry is the symptom.
    try:
        known = host.postalias_query(NEW_ALIAS, "hash:/etc/aliases") is not None
    except Fail:
        known = False
    if source.newer_than(db) or not known:
        return (_("/etc/aliases is newer than /etc/aliases.db; `postalias -q {alias}` finds nothing",
                  alias=NEW_ALIAS) if not known else _("/etc/aliases is newer than /etc/aliases.db"),
                _("Rebuild the alias database: `newaliases`."))
    return None


def _nothing_is_held(host):
    tables = [t for t in re.split(r"[\s,]+", host.postconf("header_checks") or "") if t]
    for table in tables:
        for header in ("From: someone@remote.test", "Subject: hello"):
            action = host.postmap_query(header, table)
            if action and action.upper().startswith("HOLD"):
                return (_("header_checks {table} answers `{action}` for the header {header}",
                          table=table, action=action, header=header),
                        _("Remove the rule that holds every message (or the header_checks setting), then "
                          "`postfix reload`."))
    held = [m for m in host.queue() if m.queue_name == "hold"]
    if held:
        return (_("{count} message(s) wait in the hold queue", count=len(held)),
                _("Release them: `postsuper -H ALL`, then `postqueue -f`."))
    return None


def _maildir_is_alices(host):
    alice = host.user(ALICE)
    wrong = []
    for sub in ("", "/new", "/cur", "/tmp"):
        path = f"/home/{ALICE}/Maildir{sub}"
        folder = host.file(path)
        if folder.exists and folder.uid != alice.uid:
            wrong.append(path)
    if wrong:
        return (_("not owned by alice: {paths}", paths=", ".join(wrong)),
                _("Dovecot delivers as alice, so her Maildir must be hers: `chown -R alice:alice /home/alice/Maildir`."))
    return None


_FIXED = {
    _domain_is_local: _("example.test is local"),
    _lmtp_socket_agrees: _("the LMTP socket"),
    _aliases_are_rebuilt: _("the aliases"),
    _nothing_is_held: _("nothing on hold"),
    _maildir_is_alices: _("alice's Maildir"),
}


# --- helpers ------------------------------------------------------------------------------------

def _named(text):
    words = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip().lower()
        for word in re.split(r"[\s,;]+", line):
            if word and word not in words:
                words.append(word)
    return words


def _dovecot_has_message_id(host, message_id):
    # alice's INBOX read by the grader's own walk of her Maildir (a `doveadm` replaced inside has no say).
    return message_id in host.maildir(ALICE_MAILDIR)


def _send_from_outside(host, rcpts=(f"{ALICE}@example.test", f"{NEW_ALIAS}@example.test")):
    """A tagged message from the outside client over SMTP, followed through the log (bounded)."""
    tag = uuid.uuid4().hex
    message_id = f"maillab-{tag}@grader.maillab.test"
    message = build_message("friend@client.example", list(rcpts), subject="MailLab check: from outside",
                            message_id=message_id, tag=tag)
    log = host.maillog()
    mark = log.mark()
    talk = host.world.converse(MACHINE, mail_from="friend@client.example", rcpts=list(rcpts), data=message,
                               timeout=5)
    refused = [(rcpt, reply) for rcpt, reply in talk.rcpt.items() if not reply.ok]
    if not talk.delivered or refused:
        rcpt, reply = refused[0] if refused else ("", talk.data or talk.mail)
        raise Fail(_("the outside client's SMTP session: {answer}",
                     answer=f"RCPT TO:<{rcpt}> -> {reply}" if rcpt else (talk.error or str(reply))),
                   hint=_smtp_hint(str(reply) if reply else ""))
    deadline = time.monotonic() + 8
    while True:
        delivery = log.follow(message_id, list(rcpts), since=mark)
        if delivery.complete or time.monotonic() > deadline:
            return tag, delivery
        time.sleep(0.1)


def _smtp_hint(answer):
    if "Relay access denied" in answer:
        return _("Postfix does not see example.test as its own domain: is mydestination right, and was Postfix "
                 "reloaded?")
    if "User unknown" in answer:
        return _("Postfix does not know this address: is the alias in the alias database (`newaliases`)?")
    return _("Read the server's answer: it says what it refused and why.")
