"""Checks of lab 12, troubleshooting. The lab's setup planted five faults on a working server.
diagnose: the learner names them in /root/answers/diagnosis.txt (ids from the notebook's table).
repair: each fault is probed on its own (so progress shows), then mail from the outside client
to alice, bob and an alias must reach Dovecot, and both must read it over IMAP and POP3.
Nothing is sampled: every user (alice and bob), every held message, every file of their Maildirs."""
import posixpath
import re
import stat

from grader import Fail, _, check, joined
from grader import dovecot, inbound

MACHINE = "192.0.2.10"
DIAGNOSIS = "/root/answers/diagnosis.txt"
ALICE, ALICE_PASSWORD = "alice", "alice123"
USERS = {"alice": "alice123", "bob": "bob123"}  # every user of the server: mail must work for each
LOCAL_DOMAINS = ("example.test", "mail.example.test", "localhost")  # what mydestination named before the fault
MAILDIR_WALK_LIMIT = 500  # entries of a Maildir the ownership probe looks at (a lab Maildir has a few dozen)
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
    maildir = host.maildir(ALICE_MAILDIR)
    found = {mid: maildir.find(mid) for mid in HELD_IDS}
    missing = [mid for mid, message in found.items() if message is None]
    if missing:
        queued = [m for m in host.queue()]
        if queued:
            on_hold = any(m.queue_name == "hold" for m in queued)
            raise Fail(_("alice does not have <{id}> yet; the queue holds: {queue}", id=missing[0],
                         queue=joined("; ", (m.describe() for m in queued))),
                       hint=_("Release held mail with `postsuper -H ALL`, then `postqueue -f` delivers it now.")
                       if on_hold else _("The messages wait in the deferred queue: the reason in parentheses says "
                                         "what still stops them. Fix it, then `postqueue -f`."))
        raise Fail(_("alice does not have <{id}>, and the queue is empty", id=missing[0]),
                   hint=_("The held messages are gone without reaching alice (deleted with `postsuper -d`?). "
                          "Reset the step to get them back, and release them with `postsuper -H` this time."))
    unreadable = [problem for message in found.values()
                  for problem in [_unreadable_to(host, host.user(ALICE), message.source)] if problem]
    if unreadable:
        raise Fail(_("both held messages are in alice's Maildir, but alice cannot read {problem}",
                     problem=unreadable[0]),
                   hint=_("Her mail reader runs as alice: give the files back to her, with read and write for the "
                          "owner: `chown -R alice:alice /home/alice/Maildir && chmod -R u+rwX /home/alice/Maildir`."))
    return _("alice has both messages that were held: {ids}", ids=", ".join(f"<{m}>" for m in HELD_IDS))


@check(step="repair", title=_("Mail from outside reaches alice, bob and the {alias} alias", alias=NEW_ALIAS),
       hint=_("Follow the message in /var/log/mail.log by its queue id."))
def mail_from_outside_reaches_alice_and_the_alias(host):
    """Every user (alice, bob) and the alias, in one message from the outside client."""
    tag, delivery = _send_from_outside(host)
    for rcpt in OUTSIDE_RCPTS:
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
    for user in USERS:
        if host.maildir(f"/home/{user}/Maildir").find_tag(tag) is None:
            raise Fail(_("Postfix handed it to Dovecot, but it is not in {path}", path=f"/home/{user}/Maildir"),
                       hint=_("Read /var/log/dovecot.log."))
    return _("from client.example: {summary}", summary=delivery.summary())


@check(step="repair", title=_("alice and bob read it over IMAP and POP3"),
       hint=_("Read what the server answered above, and /var/log/dovecot.log."))
def alice_reads_it_over_imap_and_pop3(host):
    """Every user, over both protocols."""
    rcpts = tuple(f"{user}@example.test" for user in USERS)
    tag, delivery = _send_from_outside(host, rcpts=rcpts)
    for rcpt in rcpts:
        if delivery.status(rcpt) != "sent":
            raise Fail(_("the message was not delivered: {summary}", summary=delivery.summary()))
    seen = []
    for user, password in USERS.items():
        for probe in (host.world.imap, host.world.pop3):
            got = probe(MACHINE, user, password, tag=tag)
            if not got.logged_in or not got.found:
                raise Fail(_("{user} over {protocol} from client.example: {what}", user=user, protocol=got.protocol,
                             what=got.describe()))
            seen.append(f"{user} {got.protocol}: {got.messages}")
    return _("alice and bob found the message over IMAP and POP3 (messages in INBOX: {counts})",
             counts=", ".join(seen))


# --- the five faults, each probed on its own: None when repaired, else (what is seen, hint) ---

def _domain_is_local(host):
    """Every name mydestination had before the fault: example.test, the host's name, localhost."""
    lint = host.postconf_lint()
    misspelt = [w.parameter for w in lint.unused if w.parameter and w.parameter.startswith("mydest")]
    destinations = host.postconf("mydestination", expand=True) or ""
    local = re.split(r"[\s,]+", destinations.lower())
    if "example.test" not in local:
        seen = _("mydestination = {value}", value=destinations)
        if misspelt:
            seen = _("mydestination = {value}; postconf warns about an unused parameter {name}",
                     value=destinations, name=misspelt[0])
        return seen, _("Spell the key `mydestination` right in /etc/postfix/main.cf, so example.test is local "
                       "again; then `postfix reload`.")
    if misspelt:
        return (_("postconf still warns about an unused parameter {name}", name=misspelt[0]),
                _("Remove the misspelt line from /etc/postfix/main.cf."))
    lost = [name for name in LOCAL_DOMAINS if name not in local]
    if lost:
        return (_("mydestination = {value}: {names} are no longer local domains, so mail for alice@{name} is refused",
                  value=destinations, names=", ".join(lost), name=lost[0]),
                _("The repair is the key's spelling, not a new value: give mydestination the value it had, "
                  "`mydestination = $myhostname, example.test, localhost.example.test, localhost`, then "
                  "`postfix reload`."))
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
    """The alias in the file, the database newer than the file, and Postfix's own lookup finding it: each
    way of being wrong named as what it is (newaliases only helps the second)."""
    source, db = host.file("/etc/aliases"), host.file("/etc/aliases.db")
    if not _has_alias_line(source.text if source.is_file else "", NEW_ALIAS):
        return (_("/etc/aliases has no {alias}: line any more", alias=NEW_ALIAS),
                _("The alias was right; only its database was old. Put the line `{alias}: alice` back into "
                  "/etc/aliases, then `newaliases`.", alias=NEW_ALIAS))
    # Postfix's own postalias (from the image, on a copy of the table): a stale or missing entry is the symptom.
    try:
        known = host.postalias_query(NEW_ALIAS, "hash:/etc/aliases") is not None
    except Fail:
        known = False
    if source.newer_than(db):
        return (_("/etc/aliases is newer than /etc/aliases.db; `postalias -q {alias}` finds nothing",
                  alias=NEW_ALIAS) if not known else _("/etc/aliases is newer than /etc/aliases.db"),
                _("Rebuild the alias database: `newaliases`."))
    if not known:
        return (_("/etc/aliases has the {alias}: line and aliases.db is newer, but `postalias -q {alias} "
                  "hash:/etc/aliases` finds nothing in it", alias=NEW_ALIAS),
                _("The database was not built from this file: look at `ls -l --time-style=full-iso /etc/aliases*` "
                  "and `postconf alias_maps alias_database`, then `newaliases`."))
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
    """Every user's home and every entry of their Maildir (folders, messages, Dovecot's own files) is
    theirs and open to them: Dovecot delivers and reads as the user. Walked in full (up to
    MAILDIR_WALK_LIMIT entries), not sampled: one root-owned dovecot-uidlist stops every delivery."""
    for name in USERS:
        user = host.user(name)
        if not user:
            continue
        home = f"/home/{name}"
        info = host.backend.stat(home)
        if info is not None and info.st_uid != user.uid:
            return (_("{path} is not owned by {user} any more", path=home, user=name),
                    _("Dovecot delivers as {user} into {path}/Maildir: give the home back, "
                      "`chown -R {user}:{user} {path}`.", user=name, path=home))
        maildir = f"{home}/Maildir"
        foreign, closed = [], []
        for path, info in _walk(host, maildir):
            if info.st_uid != user.uid:
                foreign.append(path)
            elif (_unreadable_to(host, user, path, info) if not stat.S_ISDIR(info.st_mode)
                  else (info.st_mode & 0o700) != 0o700):
                closed.append(f"{path} ({stat.S_IMODE(info.st_mode):04o})")
        if foreign:
            return (_("not owned by {user}: {paths}", user=name, paths=_some(foreign)),
                    _("Dovecot delivers and reads as {user}, so everything in the Maildir, the files inside too, must "
                      "belong to {user}: `chown -R {user}:{user} {path}`.", user=name, path=maildir))
        if closed:
            return (_("{user} cannot read or write: {paths}", user=name, paths=_some(closed)),
                    _("The owner needs read and write on the files and full access to the folders: "
                      "`chmod -R u+rwX {path}`.", path=maildir))
    return None


def _walk(host, top):
    """(path, lstat) of `top` and everything below it (no symlink followed), breadth first, bounded."""
    info = host.backend.stat(top)
    if info is None:
        return []
    found, folders = [(top, info)], [top] if stat.S_ISDIR(info.st_mode) else []
    while folders and len(found) < MAILDIR_WALK_LIMIT:
        folder = folders.pop(0)
        try:
            names = host.backend.listdir(folder)
        except OSError:
            continue
        for name in names[:MAILDIR_WALK_LIMIT - len(found)]:
            path = posixpath.join(folder, name)
            info = host.backend.stat(path)
            if info is None or stat.S_ISLNK(info.st_mode):
                continue
            found.append((path, info))
            if stat.S_ISDIR(info.st_mode):
                folders.append(path)
    return found


def _unreadable_to(host, user, path, info=None):
    """None when `user` may read the file at `path`, else the path and its mode (what was seen)."""
    info = info if info is not None else host.backend.stat(path)
    if info is None:
        return None
    mode = stat.S_IMODE(info.st_mode)
    readable = ((info.st_uid == user.uid and mode & 0o400) or (info.st_gid == user.gid and mode & 0o040)
                or mode & 0o004)
    return None if readable else f"{path} ({mode:04o})"


def _some(paths, shown=3):
    if len(paths) <= shown:
        return ", ".join(paths)
    return _("{paths} and {count} more", paths=", ".join(paths[:shown]), count=len(paths) - shown)


_FIXED = {
    _domain_is_local: _("example.test is local"),
    _lmtp_socket_agrees: _("the LMTP socket"),
    _aliases_are_rebuilt: _("the aliases"),
    _nothing_is_held: _("nothing on hold"),
    _maildir_is_alices: _("the Maildirs"),
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


def _has_alias_line(text, alias):
    return any(re.match(rf"{re.escape(alias)}\s*:", line.strip(), re.IGNORECASE) for line in text.splitlines())


OUTSIDE_RCPTS = (f"{ALICE}@example.test", "bob@example.test", f"{NEW_ALIAS}@example.test")


def _send_from_outside(host, rcpts=OUTSIDE_RCPTS):
    """A tagged message from the outside client over SMTP, followed through the log until every
    recipient is delivered or waits (bounded)."""
    sent = inbound.submit(host, MACHINE, list(rcpts), subject="MailLab check: from outside", within=8)
    talk = sent.smtp
    refused = [(rcpt, reply) for rcpt, reply in talk.rcpt.items() if not reply.ok]
    if not talk.delivered or refused:
        rcpt, reply = refused[0] if refused else ("", talk.data or talk.mail)
        raise Fail(_("the outside client's SMTP session: {answer}",
                     answer=f"RCPT TO:<{rcpt}> -> {reply}" if rcpt else (talk.error or str(reply))),
                   hint=_smtp_hint(str(reply) if reply else ""))
    return sent.tag, sent.log


def _smtp_hint(answer):
    if "Relay access denied" in answer:
        return _("Postfix does not see example.test as its own domain: is mydestination right, and was Postfix "
                 "reloaded?")
    if "User unknown" in answer:
        return _("Postfix does not know this address: is the alias in the alias database (`newaliases`)?")
    return _("Read the server's answer: it says what it refused and why.")
