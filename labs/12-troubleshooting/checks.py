"""Checks of lab 12, troubleshooting: an exam. Each learner's server was given five faults drawn
from a pool (faults/ID/, see [pool] in lab.toml) with a seed from their name; `host.world.drawn`
names them. diagnose: the learner names them in /root/answers/diagnosis.txt (ids from the notebook's
table, where the rest of the pool and a few decoys sit beside them). repair: every fault of the pool
is probed on its own (progress shows; a fault the learner made while repairing shows too), with a
hint ladder per fault: the symptom, then where to look, then what is wrong. Then the mail that
waited, mail from outside to every user and alias, IMAP and POP3 for both users, mail out to
remote.test, and no relaying for strangers. Nothing is sampled."""
import ipaddress
import posixpath
import re
import stat
from dataclasses import dataclass
from typing import Callable

from grader import Fail, _, check, joined
from grader import dovecot, inbound

MACHINE = "192.0.2.10"
CLIENT = "203.0.113.10"
DIAGNOSIS = "/root/answers/diagnosis.txt"
ALICE, ALICE_PASSWORD = "alice", "alice123"
USERS = {"alice": "alice123", "bob": "bob123"}  # every user of the server: mail must work for each
LOCAL_DOMAINS = ("example.test", "mail.example.test", "localhost")  # what mydestination names when right
MAILDIR_WALK_LIMIT = 500  # entries of a Maildir the ownership probe looks at (a lab Maildir has a few dozen)
ALICE_MAILDIR = "/home/alice/Maildir"  # her INBOX (mail_location = maildir:~/Maildir)
NEW_ALIAS = "support"  # the alias the aliases-not-rebuilt fault added
ALIASES = ("sales",)  # aliases every server of the lab has (lab 05: sales reaches alice and bob)
QUEUE_DIR = "/var/spool/postfix"
HELD_IDS = ("held-1.maillab@example.test", "held-2.maillab@example.test")  # what the mail-on-hold fault held
LMTP_TRANSPORT = "lmtp:unix:private/dovecot-lmtp"
REMOTE_RCPT = "user@remote.test"
THIRD = "someone@elsewhere.test"
OUTSIDER = "friend@client.example"
DECOYS = ("dns-mx", "dovecot-stopped", "postfix-stopped", "wrong-password", "disk-full")
# Why a decoy is not a fault of this machine, and how to see it.
NOT_A_FAULT = {
    "dns-mx": _("the MX record is fine: `dig MX example.test` answers mail.example.test"),
    "dovecot-stopped": _("Dovecot runs: `service dovecot status`"),
    "postfix-stopped": _("Postfix runs: `postfix status`"),
    "wrong-password": _("alice's password is still alice123 (`doveadm auth test alice alice123`)"),
    "disk-full": _("the disk has room: `df -h /`"),
}


@dataclass(frozen=True)
class Fault:
    """One fault of the pool: how its probe tells it is there, and the hints a learner climbs."""
    probe: Callable  # (host, planted) -> None when all is well, else (what is seen, what is wrong or None)
    fixed: str       # said once it is repaired
    not_here: str    # why it is not a fault of a machine that was not given it
    symptom: str     # rung 1: what a user of the server notices
    where: str       # rung 2: where to look
    what: str        # rung 3: what is wrong (a probe may name it more exactly)

    def ladder(self, seen, what=None):
        """The symptom, then where to look, then what was seen and what is wrong."""
        return (self.symptom, self.where, _("{seen}. {what}", seen=seen, what=what or self.what))


# --- the probes, one per fault of the pool: None when all is well, else (what is seen, what is wrong) ---
# `planted`: the learner's machine was given this fault (some probes then also know what was there).

def _domain_is_local(host, planted):
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
                       "again; then `postfix reload`.") if misspelt else None
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


def _lmtp_path(host):
    """The socket Postfix hands mailbox delivery to: mailbox_transport's, or where the course put it
    when delivery is not over LMTP just now (_delivery_is_dovecots speaks of that)."""
    transport = host.postconf("mailbox_transport") or ""
    if not transport.startswith("lmtp:unix:"):
        transport = LMTP_TRANSPORT
    where = transport.split(":", 2)[2]
    return transport, where if where.startswith("/") else f"{QUEUE_DIR}/{where}"


def _lmtp_socket_agrees(host, planted):
    transport, path = _lmtp_path(host)
    listeners = dovecot.lmtp_listeners(host)
    if path not in listeners:
        return (_("mailbox_transport = {transport}; Dovecot's LMTP listens on {listeners}",
                  transport=transport, listeners=", ".join(listeners) or _("(nothing)")), None)
    if host.backend.stat(path) is None:
        return (_("Dovecot is set to listen on {path}, but the socket is not there", path=path),
                _("Dovecot has not taken the change yet: `service dovecot restart`."))
    return None


def _lmtp_socket_is_postfixs(host, planted):
    """Every LMTP socket Dovecot makes in Postfix's queue folder is one Postfix may connect to."""
    postfix = host.user("postfix")
    for path in dovecot.lmtp_listeners(host):
        info = host.backend.stat(path) if path.startswith(QUEUE_DIR + "/") else None
        if info is None or not stat.S_ISSOCK(info.st_mode):
            continue
        mode = stat.S_IMODE(info.st_mode)
        allowed = ((postfix and info.st_uid == postfix.uid and mode & 0o600 == 0o600)
                   or (postfix and info.st_gid == postfix.gid and mode & 0o060 == 0o060) or mode & 0o006 == 0o006)
        if not allowed:
            owner = host._user_names().get(info.st_uid, str(info.st_uid))
            return (_("{path} belongs to {owner} with mode {mode}: Postfix's lmtp client runs as postfix",
                      path=path, owner=owner, mode=f"{mode:04o}"), None)
    return None


def _delivery_is_dovecots(host, planted):
    transport = host.postconf("mailbox_transport") or ""
    home_mailbox = host.postconf("home_mailbox") or ""
    if transport:
        return None
    if home_mailbox.endswith("/"):
        return None  # Postfix delivers into the Maildir itself: Dovecot reads it just the same
    if home_mailbox:
        return (_("mailbox_transport is empty and home_mailbox = {value}: Postfix writes a mailbox file {value} "
                  "in each home, where alice's Maildir folder is", value=home_mailbox), None)
    return (_("mailbox_transport is empty: Postfix delivers to /var/mail, where Dovecot does not look"), None)


def _aliases_are_rebuilt(host, planted):
    """The database newer than the file, and Postfix's own lookup finding the new alias (where it
    was added): each way of being wrong named as what it is (newaliases only helps the second)."""
    source, db = host.file("/etc/aliases"), host.file("/etc/aliases.db")
    text = source.text if source.is_file else ""
    if planted and not _has_alias_line(text, NEW_ALIAS):
        return (_("/etc/aliases has no {alias}: line any more", alias=NEW_ALIAS),
                _("The alias was right; only its database was old. Put the line `{alias}: alice` back into "
                  "/etc/aliases, then `newaliases`.", alias=NEW_ALIAS))
    if source.newer_than(db):
        return (_("/etc/aliases is newer than /etc/aliases.db"), _("Rebuild the alias database: `newaliases`."))
    wanted = [NEW_ALIAS] if planted else []
    for alias in wanted + list(ALIASES):
        try:
            known = host.postalias_query(alias, "hash:/etc/aliases") is not None
        except Fail:
            known = False
        if not known:
            return (_("/etc/aliases has the {alias}: line and aliases.db is newer, but `postalias -q {alias} "
                      "hash:/etc/aliases` finds nothing in it", alias=alias),
                    _("The database was not built from this file: look at `ls -l --time-style=full-iso "
                      "/etc/aliases*` and `postconf alias_maps alias_database`, then `newaliases`."))
    return None


def _nothing_is_held(host, planted):
    tables = [t for t in re.split(r"[\s,]+", host.postconf("header_checks") or "") if t]
    for table in tables:
        for header in ("From: someone@remote.test", "Subject: hello"):
            action = host.postmap_query(header, table)
            if action and action.upper().startswith("HOLD"):
                return (_("header_checks {table} answers `{action}` for the header {header}",
                          table=table, action=action, header=header), None)
    held = [m for m in host.queue() if m.queue_name == "hold"]
    if held:
        return (_("{count} message(s) wait in the hold queue", count=len(held)),
                _("Release them: `postsuper -H ALL`, then `postqueue -f`."))
    return None


def _maildir_is_alices(host, planted):
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


def _mailbox_limit_fits(host, planted):
    mailbox = _number(host.postconf("mailbox_size_limit"))
    message = _number(host.postconf("message_size_limit"))
    if mailbox and message is not None and mailbox < message:
        return (_("mailbox_size_limit = {mailbox} is smaller than message_size_limit = {message}: Postfix's local "
                  "delivery stops with a fatal error", mailbox=mailbox, message=message), None)
    return None


def _imap_and_pop3_offered(host, planted):
    protocols = dovecot.setting(host, "protocols").split()
    missing = [p for p in ("imap", "pop3", "lmtp") if p not in protocols]
    if missing:
        return (_("Dovecot's protocols = {value}: {missing} missing", value=" ".join(protocols),
                  missing=", ".join(missing)), None)
    return None


def _mail_may_leave(host, planted):
    for name in ("default_transport", "relay_transport"):
        value = host.postconf(name) or ""
        if value.split(":", 1)[0] in ("error", "discard", "retry"):
            return (_("{name} = {value}: Postfix refuses to send mail to other domains", name=name, value=value),
                    None)
    return None


def _no_relayhost(host, planted):
    value = host.postconf("relayhost") or ""
    if value.strip():
        return (_("relayhost = {value}: every message for another domain goes there", value=value), None)
    return None


def _listens_outside(host, planted):
    value = (host.postconf("inet_interfaces") or "").lower()
    names = re.split(r"[\s,]+", value)
    if "all" not in names and MACHINE not in names and "$myhostname" not in names:
        return (_("inet_interfaces = {value}: Postfix listens only there, and nobody outside can connect",
                  value=value), None)
    return None


def _trusts_only_itself(host, planted):
    value = host.postconf("mynetworks", expand=True) or ""
    client = ipaddress.ip_address(CLIENT)
    wide = []
    for entry in value.replace(",", " ").split():
        try:
            network = ipaddress.ip_network(entry.strip("[]").replace("]/", "/"), strict=False)
        except ValueError:
            continue
        if network.version == client.version and client in network:
            wide.append(entry)
    if wide:
        return (_("mynetworks = {value} takes in the outside client {client} ({entries})", value=value,
                  client=CLIENT, entries=", ".join(wide)), None)
    return None


def _number(value):
    try:
        return int((value or "").strip())
    except ValueError:
        return None


FAULTS = {
    "aliases-not-rebuilt": Fault(
        _aliases_are_rebuilt, _("the aliases"), _("the alias database is as new as /etc/aliases"),
        _("Mail for a new address of the company is refused with `User unknown`."),
        _("Compare the times of /etc/aliases and /etc/aliases.db (`ls -l --time-style=full-iso /etc/aliases*`), "
          "and ask the database itself: `postalias -q NAME hash:/etc/aliases`."),
        _("Postfix reads /etc/aliases.db, not /etc/aliases: the file was changed, the database never rebuilt. "
          "Run `newaliases`.")),
    "domain-not-local": Fault(
        _domain_is_local, _("example.test is local"), _("mydestination names example.test: `postconf mydestination`"),
        _("Mail from outside for alice@example.test is refused with `Relay access denied`."),
        _("Ask Postfix for its warnings: `postconf -n > /dev/null` prints them. Which domains does it deliver "
          "itself (`postconf mydestination`)?"),
        _("A key of main.cf is misspelt, so mydestination fell back to its default without example.test. Correct "
          "the spelling in /etc/postfix/main.cf, then `postfix reload`.")),
    "imap-not-offered": Fault(
        _imap_and_pop3_offered, _("IMAP is offered"), _("Dovecot offers IMAP: `doveconf protocols`"),
        _("alice's mail program cannot connect over IMAP (port 143), though POP3 works."),
        _("Which protocols does Dovecot serve (`doveconf protocols`), and where is that set "
          "(`grep -rn protocols /etc/dovecot`)?"),
        _("A `protocols = pop3 lmtp` line in /etc/dovecot/dovecot.conf leaves IMAP out: remove it (the installed "
          "packages add their protocols themselves), then `service dovecot restart`.")),
    "lmtp-socket": Fault(
        _lmtp_socket_agrees, _("the LMTP socket"), _("Postfix and Dovecot name the same LMTP socket"),
        _("Mail is accepted, then waits in the queue: it never reaches Dovecot."),
        _("Read why deferred mail waits (`postqueue -p`, or `grep lmtp /var/log/mail.log`), then compare "
          "mailbox_transport with where Dovecot listens (`doveconf -n service lmtp`)."),
        _("Postfix connects to private/dovecot-lmtp, but Dovecot listens elsewhere. Make Dovecot's unix_listener "
          "in /etc/dovecot/conf.d/99-lmtp.conf name private/dovecot-lmtp again, then `service dovecot restart`.")),
    "lmtp-socket-permissions": Fault(
        _lmtp_socket_is_postfixs, _("the LMTP socket's owner"), _("the LMTP socket belongs to postfix"),
        _("Mail is accepted, then waits in the queue: the log says `Permission denied` for LMTP."),
        _("Look at the socket Postfix connects to: `ls -l /var/spool/postfix/private/`, and at the unix_listener "
          "in `doveconf -n service lmtp`."),
        _("Dovecot makes the socket for the user named in its unix_listener, mode 0600: it must be `user = postfix` "
          "(/etc/dovecot/conf.d/99-lmtp.conf), then `service dovecot restart`.")),
    "local-only": Fault(
        _mail_may_leave, _("mail may leave"), _("Postfix sends mail out: `postconf default_transport relay_transport`"),
        _("Mail from alice to other domains bounces at once, though mail inside the company works."),
        _("Read the bounce in /var/log/mail.log: which transport did Postfix use (`postconf -n | grep transport`)?"),
        _("default_transport and relay_transport are set to `error`, as a \"Local only\" install leaves them. "
          "Remove both lines (`postconf -X default_transport relay_transport`), then `postfix reload`.")),
    "loopback-only": Fault(
        _listens_outside, _("Postfix listens outside"), _("Postfix listens on every interface: `ss -ltn`"),
        _("Nobody outside can connect to port 25: the connection is refused."),
        _("On which addresses does Postfix listen (`ss -ltn`), and what does `postconf inet_interfaces` say?"),
        _("inet_interfaces = loopback-only: set it to `all`, then restart Postfix (`postfix stop; postfix start`): "
          "a reload does not change the interfaces.")),
    "mail-on-hold": Fault(
        _nothing_is_held, _("nothing on hold"), _("the hold queue is empty and no rule holds mail"),
        _("Messages for alice wait and are never delivered, though nothing seems to fail."),
        _("Look at the queue: `postqueue -p`. What does a `!` after a queue id mean, and which line of "
          "/var/log/mail.log says why?"),
        _("A header_checks rule (`/^From:/ HOLD`) holds every message. Remove the rule or the header_checks "
          "setting, `postfix reload`, then release what it held: `postsuper -H ALL` and `postqueue -f`.")),
    "mailbox-size-limit": Fault(
        _mailbox_limit_fits, _("the mailbox limit"), _("mailbox_size_limit is not below message_size_limit"),
        _("Mail is accepted, then waits in the queue: `mail system configuration error`."),
        _("Read the fatal line of Postfix's local delivery: `grep fatal /var/log/mail.log`."),
        _("mailbox_size_limit is smaller than message_size_limit, so local(8) refuses to run. Remove the setting "
          "(`postconf -X mailbox_size_limit`) or make it larger, then `postfix reload`.")),
    "maildir-permissions": Fault(
        _maildir_is_alices, _("the Maildirs"), _("alice's Maildir belongs to alice"),
        _("Mail for alice waits in the queue, or reaches her Maildir where she cannot read it; bob's mail is fine."),
        _("Look at who owns alice's mail folder: `ls -la /home/alice/Maildir`, and at /var/log/dovecot.log when "
          "Dovecot tries to deliver."),
        _("alice's Maildir belongs to root: Dovecot delivers as alice. `chown -R alice:alice /home/alice/Maildir`.")),
    "maildir-without-slash": Fault(
        _delivery_is_dovecots, _("delivery through Dovecot"),
        _("Postfix hands mail to Dovecot: `postconf mailbox_transport`"),
        _("New mail for alice and bob never shows up in their mail programs."),
        _("How does Postfix deliver local mail (`postconf mailbox_transport home_mailbox`), and what does the log "
          "say about it (`grep 'postfix/local' /var/log/mail.log`)?"),
        _("mailbox_transport was removed and home_mailbox = Maildir (no slash) makes Postfix write a mailbox "
          "file. Give delivery back to Dovecot: `postconf -X home_mailbox` and "
          "`postconf -e mailbox_transport=lmtp:unix:private/dovecot-lmtp`, then `postfix reload`.")),
    "open-relay": Fault(
        _trusts_only_itself, _("no open relay"), _("mynetworks lists only the server itself: `postconf mynetworks`"),
        _("Anyone on the Internet can send mail to other domains through this server."),
        _("Which clients does Postfix trust to relay (`postconf mynetworks`)? Try it: "
          "`swaks --server 192.0.2.10 --to someone@elsewhere.test` from outside."),
        _("mynetworks = 0.0.0.0/0 trusts every address. List only the server's own: "
          "`postconf -e 'mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128'`, then `postfix reload`.")),
    "wrong-relayhost": Fault(
        _no_relayhost, _("no relayhost"), _("relayhost is empty: mail goes by MX"),
        _("Mail from alice to other domains waits in the queue: `Host or domain name not found`."),
        _("Where does Postfix send mail for other domains (`postqueue -p`, `postconf relayhost`)?"),
        _("relayhost names a provider's relay that does not exist. Empty it (`postconf -e 'relayhost ='`) so mail "
          "goes by MX, then `postfix reload`.")),
}


# --- diagnose ---------------------------------------------------------------------------------

def _drawn(host):
    return tuple(host.world.drawn) if host.world is not None else ()


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
    unknown = [word for word in _named(host.file(DIAGNOSIS).text) if word not in (*FAULTS, *DECOYS)]
    if unknown:
        raise Fail(_("not ids from the table: {words}", words=", ".join(unknown)))
    return _("every id is from the table")


@check(step="diagnose", title=_("No working part is named as a fault"),
       hint=_("Check each suspicion on the machine before you write it down."))
def no_working_part_is_named(host):
    drawn = _drawn(host)
    wrong = [word for word in _named(host.file(DIAGNOSIS).text) if word not in drawn]
    if wrong:
        why = NOT_A_FAULT.get(wrong[0]) or FAULTS[wrong[0]].not_here
        raise Fail(_("`{id}` is not a fault of this machine: {why}", id=wrong[0], why=why),
                   hint=_("Take `{id}` out of {path}, and keep looking for the real faults.", id=wrong[0],
                          path=DIAGNOSIS))
    return _("nothing that works is named")


@check(step="diagnose", title=_("Every fault is named"),
       hint=_("Keep looking: the mail log, `postqueue -p`, `postconf -n` and /var/log/dovecot.log tell the story."))
def every_fault_is_named(host):
    drawn = _drawn(host)
    named = _named(host.file(DIAGNOSIS).text)
    missing = [fault for fault in drawn if fault not in named]
    if missing:
        fault = FAULTS[missing[0]]
        raise Fail(_("you named {found} of the {total} faults", found=len(drawn) - len(missing), total=len(drawn)),
                   ladder=(_("One fault is still unnamed. Its symptom: {symptom}", symptom=fault.symptom),
                           _("One fault is still unnamed. A place to look: {where}", where=fault.where)),
                   about=missing[0])
    return _("all {total} faults named", total=len(drawn))


# --- repair -----------------------------------------------------------------------------------

@check(step="repair", title=_("Every fault is repaired"),
       hint=_("Repair the faults you named, one by one; this check shows which are done."))
def every_fault_is_repaired(host):
    """Every probe of the pool runs: a fault the learner was given, and one they made while repairing."""
    drawn = _drawn(host)
    fixed, broken = [], []
    for fault_id in sorted(FAULTS, key=lambda f: f not in drawn):
        fault = FAULTS[fault_id]
        problem = fault.probe(host, fault_id in drawn)
        if problem is None:
            if fault_id in drawn:
                fixed.append(str(fault.fixed))
        else:
            broken.append((fault_id, problem))
    if broken:
        fault_id, (seen, what) = broken[0]
        done = ", ".join(fixed) or _("none yet")
        raise Fail(_("repaired {done_count} of your {total} faults ({done}); something is still wrong",
                     done_count=len(fixed), total=len(drawn), done=done),
                   ladder=FAULTS[fault_id].ladder(seen, what), about=fault_id)
    return _("all {total} repaired: {done}", total=len(drawn), done=", ".join(fixed))


@check(step="repair", title=_("The mail that was waiting reached alice"),
       hint=_("Release held mail with `postsuper -H ALL`, then `postqueue -f` delivers it now."))
def the_waiting_mail_reached_alice(host):
    if "mail-on-hold" not in _drawn(host):
        return _("no message of alice's was waiting")
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
                   hint=_("The messages that waited are gone without reaching alice (deleted with `postsuper -d`, or "
                          "released before the way to alice worked, and bounced?). Reset the step to get them back, "
                          "and release them last this time."))
    unreadable = [problem for message in found.values()
                  for problem in [_unreadable_to(host, host.user(ALICE), message.source)] if problem]
    if unreadable:
        raise Fail(_("both messages that waited are in alice's Maildir, but alice cannot read {problem}",
                     problem=unreadable[0]),
                   hint=_("Her mail reader runs as alice: give the files back to her, with read and write for the "
                          "owner: `chown -R alice:alice /home/alice/Maildir && chmod -R u+rwX /home/alice/Maildir`."))
    return _("alice has both messages that waited: {ids}", ids=", ".join(f"<{m}>" for m in HELD_IDS))


@check(step="repair", title=_("Mail from outside reaches alice, bob and the aliases"),
       hint=_("Follow the message in /var/log/mail.log by its queue id."))
def mail_from_outside_reaches_every_user_and_alias(host):
    """Every user (alice, bob) and every alias, in one message from the outside client."""
    rcpts = _outside_rcpts(host)
    tag, delivery = _send_from_outside(host, rcpts)
    for rcpt in rcpts:
        outcome = delivery.result_for(rcpt)
        if outcome is None:
            raise Fail(_("no delivery status for {rcpt} within 8 s: {summary}", rcpt=rcpt, summary=delivery.summary()),
                       hint=_("`postqueue -p` shows why it waits (a `!` means on hold)."))
        if outcome.status != "sent":
            raise Fail(_("{queue_id}: {outcome}", queue_id=outcome.queue_id, outcome=outcome.describe()),
                       hint=_("Read the reason in parentheses: it names what is still wrong."))
    for user in USERS:
        if host.maildir(f"/home/{user}/Maildir").find_tag(tag) is None:
            raise Fail(_("Postfix delivered it, but it is not in {path}", path=f"/home/{user}/Maildir"),
                       hint=_("Read /var/log/mail.log and /var/log/dovecot.log: where did it go?"))
    if not dovecot.find_tagged(host, ALICE, tag):
        raise Fail(_("it is in alice's Maildir, but `doveadm search -u alice` does not find it"),
                   hint=_("Read /var/log/dovecot.log."))
    return _("from client.example: {summary}", summary=delivery.summary())


@check(step="repair", title=_("alice and bob read it over IMAP and POP3"),
       hint=_("Read what the server answered above, and /var/log/dovecot.log."))
def alice_and_bob_read_it_over_imap_and_pop3(host):
    """Every user, over both protocols."""
    rcpts = tuple(f"{user}@example.test" for user in USERS)
    tag, delivery = _send_from_outside(host, rcpts)
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


@check(step="repair", title=_("alice's mail to {rcpt} arrives", rcpt=REMOTE_RCPT),
       hint=_("Follow the message in /var/log/mail.log by its queue id: the reason after status= says what stops it."))
def alice_can_mail_the_outside_world(host):
    delivery = host.send_tagged(f"{ALICE}@example.test", REMOTE_RCPT, subject="MailLab check: mail out", within=8)
    hops = host.world.trace(delivery)
    if not hops or hops[-1].where != "mx1":
        outcome = delivery.result_for(REMOTE_RCPT)
        raise Fail(_("it did not reach mx1.remote.test: {what}",
                     what=outcome.describe() if outcome else delivery.summary()))
    return joined(" -> ", (hop.describe() for hop in hops))


@check(step="repair", title=_("A stranger cannot relay through your server"),
       hint=_("Only the server itself may send mail to other domains through it: look at mynetworks and "
              "smtpd_relay_restrictions (`postconf -n`)."))
def a_stranger_cannot_relay(host):
    talk = host.world.converse(MACHINE, from_node="client", mail_from=OUTSIDER, rcpts=[THIRD], timeout=5)
    reply = talk.rcpt.get(THIRD)
    if reply is not None and reply.ok:
        raise Fail(_("RCPT TO:<{rcpt}> from the outside client ({client}): {reply}", rcpt=THIRD, client=CLIENT,
                     reply=reply))
    return _("RCPT TO:<{rcpt}> from the outside client: {reply}", rcpt=THIRD,
             reply=reply or talk.error or talk.mail)



# --- helpers ------------------------------------------------------------------------------------

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


def _outside_rcpts(host):
    aliases = ((NEW_ALIAS,) if "aliases-not-rebuilt" in _drawn(host) else ()) + ALIASES
    return tuple(f"{name}@example.test" for name in (*USERS, *aliases))


def _send_from_outside(host, rcpts):
    """A tagged message from the outside client over SMTP, followed through the log until every
    recipient is delivered or waits (bounded)."""
    sent = inbound.submit(host, MACHINE, list(rcpts), subject="MailLab check: from outside", within=8)
    talk = sent.smtp
    refused = [(rcpt, reply) for rcpt, reply in talk.rcpt.items() if not reply.ok]
    if not talk.delivered or refused:
        rcpt, reply = refused[0] if refused else ("", talk.data or talk.mail)
        raise Fail(_("the outside client's SMTP session: {answer}",
                     answer=f"RCPT TO:<{rcpt}> -> {reply}" if rcpt else (talk.error or str(reply))),
                   hint=_smtp_hint(str(reply) if reply else "", talk.error))
    return sent.tag, sent.log


def _smtp_hint(answer, error=""):
    if "Relay access denied" in answer:
        return _("Postfix does not see example.test as its own domain: is mydestination right, and was Postfix "
                 "reloaded?")
    if "User unknown" in answer:
        return _("Postfix does not know this address: is the alias in the alias database (`newaliases`)?")
    if error and not answer:
        return _("The outside client could not talk to port 25: does Postfix listen there for the world (`ss -ltn`)?")
    return _("Read the server's answer: it says what it refused and why.")
