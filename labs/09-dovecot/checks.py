"""Checks of lab 09, dovecot. Postfix hands local mail to Dovecot over LMTP; alice reads it over
POP3 and IMAP from the outside client, as a mail client on another computer would."""
import stat

from grader import Fail, _, check
from grader import dovecot

MACHINE = "192.0.2.10"
PACKAGES = ("dovecot-imapd", "dovecot-pop3d", "dovecot-lmtpd")
QUEUE_DIR = "/var/spool/postfix"
ALICE, ALICE_PASSWORD = "alice", "alice123"
ALIAS_OF_ALICE = "postmaster"  # lab 05: postmaster -> root -> alice, an alias of an alias
BOB = "bob"
FOLDERS = {"Drafts": "\\Drafts", "Sent": "\\Sent", "Junk": "\\Junk", "Trash": "\\Trash"}


# --- install-dovecot -------------------------------------------------------------------------

@check(step="install-dovecot", title=_("Dovecot's IMAP, POP3 and LMTP servers are installed"),
       hint=_("Install them from the machine's local repository: "
              "`apt-get update && apt-get install -y dovecot-imapd dovecot-pop3d dovecot-lmtpd`."))
def dovecot_is_installed(host):
    missing = [name for name in PACKAGES if not host.package(name).installed]
    if missing:
        raise Fail(_("not installed: {packages}", packages=", ".join(missing)))
    return _("installed: {packages} (Dovecot {version})", packages=", ".join(PACKAGES),
             version=host.package("dovecot-core").version)


@check(step="install-dovecot", title=_("Dovecot can read its configuration"),
       hint=_("Dovecot will not start with this configuration. `doveconf -n` shows the same error: "
              "fix the file and line it names."))
def dovecot_can_read_its_configuration(host):
    state = dovecot.config_state(host)
    if not state.ok:
        raise Fail(_("`doveconf -n` says: {error}", error=state.error))
    return _("`doveconf -n` reads the configuration without errors")


@check(step="install-dovecot", title=_("Dovecot has a log file"),
       hint=_("There is no syslog here: give Dovecot a log file with `log_path = /var/log/dovecot.log` "
              "(e.g. in /etc/dovecot/conf.d/99-log.conf), then `service dovecot restart`."))
def dovecot_has_a_log_file(host):
    path = dovecot.setting(host, "log_path")
    if not path.startswith("/"):
        raise Fail(_("log_path = {value}: with no syslog daemon, Dovecot's messages are lost", value=path or "syslog"))
    return _("log_path = {path}", path=path)


@check(step="install-dovecot", title=_("Dovecot is running"),
       hint=_("Start Dovecot with `service dovecot start` (there is no systemd here), then read "
              "/var/log/dovecot.log if it does not stay up."))
def dovecot_is_running(host):
    return _dovecot_runs(host)


@check(step="install-dovecot", title=_("Dovecot writes its log file"),
       hint=_("Dovecot runs, but not with your log_path yet: `service dovecot restart`."))
def dovecot_writes_its_log_file(host):
    path = dovecot.setting(host, "log_path")
    log = host.file(path)
    if not log.is_file or "starting up" not in log.text:
        raise Fail(_("{path} has no line saying Dovecot started", path=path))
    last = [line for line in log.text.splitlines() if "starting up" in line][-1]
    return _("{path}: {line}", path=path, line=last)


@check(step="install-dovecot", title=_("POP3 and IMAP answer from the outside client"),
       hint=_("Dovecot must listen on every interface for POP3 (110) and IMAP (143): check `listen` and "
              "`protocols` with `doveconf listen protocols`, and `ss -ltn`."))
def pop3_and_imap_answer_from_outside(host):
    answers = []
    for port, protocol in ((110, "POP3"), (143, "IMAP")):
        greeting = _greeting(host, port)
        if greeting is None:
            raise Fail(_("the outside client cannot connect to {protocol} on {address} port {port}",
                         protocol=protocol, address=MACHINE, port=port))
        answers.append(f"{port}: {greeting}")
    return _("from client.example: {answers}", answers="; ".join(answers))


# --- lmtp ------------------------------------------------------------------------------------

@check(step="lmtp", title=_("Dovecot is running"),
       hint=_("Start Dovecot with `service dovecot start`, then check again."))
def dovecot_runs_for_lmtp(host):
    return _dovecot_runs(host)


@check(step="lmtp", title=_("Postfix hands mailbox delivery to Dovecot over LMTP"),
       hint=_("Tell Postfix's local delivery agent to pass mailbox deliveries to Dovecot: "
              "`postconf -e mailbox_transport=lmtp:unix:private/dovecot-lmtp`, then `postfix reload`."))
def postfix_hands_mailboxes_to_dovecot(host):
    transport = host.postconf("mailbox_transport") or ""
    local = host.postconf("local_transport") or ""
    if local.startswith("lmtp:"):
        raise Fail(_("local_transport = {value}: every local address, aliases too, goes straight to Dovecot, "
                     "which knows nothing of /etc/aliases", value=local),
                   hint=_("Put local_transport back (`postconf -X local_transport`) and set mailbox_transport "
                          "instead: then local(8) expands aliases first and passes only mailboxes to Dovecot."))
    if not transport.startswith("lmtp:"):
        raise Fail(_("mailbox_transport = {value}", value=transport or _("(empty: local(8) writes mailboxes itself)")))
    return _("mailbox_transport = {value}", value=transport)


@check(step="lmtp", title=_("Dovecot listens for LMTP where Postfix connects"),
       hint=_("Give Dovecot's lmtp service a unix_listener inside Postfix's queue folder, e.g. "
              "`/var/spool/postfix/private/dovecot-lmtp` with `user = postfix`, `group = postfix`, "
              "`mode = 0600`, then `doveadm reload`."))
def dovecot_listens_where_postfix_connects(host):
    transport = host.postconf("mailbox_transport") or ""
    kind, _sep, where = transport.partition(":")[2].partition(":")
    if kind != "unix":
        return _("Postfix connects over {kind}: {where}", kind=kind or "inet", where=where or transport)
    path = where if where.startswith("/") else f"{QUEUE_DIR}/{where}"
    st = host.backend.stat(path)
    listeners = dovecot.lmtp_listeners(host)
    if st is None or not stat.S_ISSOCK(st.st_mode):
        raise Fail(_("Postfix connects to {path}, but there is no socket there; Dovecot's LMTP listens on: {listeners}",
                     path=path, listeners=", ".join(listeners) or _("(nothing)")))
    postfix = host.user("postfix")
    mode = stat.S_IMODE(st.st_mode)
    if not (st.st_uid == postfix.uid and mode & 0o600 == 0o600) and not mode & 0o006 == 0o006:
        raise Fail(_("{path} has mode {mode:o} and owner uid {uid}: the postfix user may not use it",
                     path=path, mode=mode, uid=st.st_uid),
                   hint=_("Set `user = postfix` and `group = postfix` (and `mode = 0600`) in the unix_listener, "
                          "then `doveadm reload`."))
    return _("{path} is a socket Postfix may use (mode {mode:o})", path=path, mode=mode)


@check(step="lmtp", title=_("Dovecot keeps mail in Maildir"),
       hint=_("Set `mail_location = maildir:~/Maildir` in Dovecot (e.g. /etc/dovecot/conf.d/99-lmtp.conf), "
              "then `doveadm reload`."))
def dovecot_keeps_mail_in_maildir(host):
    location = dovecot.setting(host, "mail_location")
    if not location.startswith("maildir:"):
        raise Fail(_("mail_location = {value}", value=location or _("(empty)")))
    return _("mail_location = {value}", value=location)


@check(step="lmtp", title=_("A tagged message to alice reaches her Maildir through Dovecot"),
       hint=_("Follow the message through /var/log/mail.log and /var/log/dovecot.log."))
def a_tagged_message_to_alice_reaches_dovecot(host):
    return _reaches_alice_through_dovecot(host, ALICE)


@check(step="lmtp", title=_("A tagged message to bob reaches his own Maildir through Dovecot"),
       hint=_("Each user's mail must land in that user's home: `mail_location = maildir:~/Maildir` (the ~ is "
              "the home of whoever the mail is for, not one fixed path), then `doveadm reload`."))
def a_tagged_message_to_bob_reaches_his_maildir(host):
    """Proves every user: alice is checked above; bob, the second user, catches a mail_location that
    names one user's folder (or any fixed path), the only way one user's mail could land in another's."""
    return _reaches_through_dovecot(host, BOB, BOB)


@check(step="lmtp", title=_("An alias of alice still works"),
       hint=_("Aliases are expanded by Postfix's local(8) before it passes mail on: use mailbox_transport "
              "(not local_transport), and keep lab 05's `postmaster: root` and `root: alice` in /etc/aliases "
              "(run `newaliases`)."))
def an_alias_of_alice_still_works(host):
    return _reaches_alice_through_dovecot(host, ALIAS_OF_ALICE)


# --- pop3 -------------------------------------------------------------------------------------

@check(step="pop3", title=_("alice reads the message over POP3 from the outside client"),
       hint=_("Read the server's answer above. Dovecot refuses passwords on a connection without TLS "
              "unless `disable_plaintext_auth = no`."))
def alice_reads_the_message_over_pop3(host):
    tag = _deliver_to_alice(host)
    seen = host.world.pop3(MACHINE, ALICE, ALICE_PASSWORD, tag=tag)
    _explain_retrieval(host, seen)
    return _("POP3 from client.example: alice logged in, {count} message(s), the tagged one among them",
             count=seen.messages)


# --- imap -------------------------------------------------------------------------------------

@check(step="imap", title=_("alice reads the message over IMAP from the outside client"),
       hint=_("Read the server's answer above. Dovecot refuses passwords on a connection without TLS "
              "unless `disable_plaintext_auth = no`."))
def alice_reads_the_message_over_imap(host):
    tag = _deliver_to_alice(host)
    seen = host.world.imap(MACHINE, ALICE, ALICE_PASSWORD, tag=tag)
    _explain_retrieval(host, seen)
    return _("IMAP from client.example: alice logged in, INBOX has {count} message(s), the tagged one among them",
             count=seen.messages)


@check(step="imap", title=_("alice has her Drafts, Sent, Junk and Trash folders"),
       hint=_("Let Dovecot create and subscribe them: in the `namespace inbox` block, give each of "
              "`mailbox Drafts`, `Sent`, `Junk` and `Trash` the line `auto = subscribe`, then `doveadm reload`."))
def alice_has_her_special_folders(host):
    seen = host.world.imap(MACHINE, ALICE, ALICE_PASSWORD)
    _explain_retrieval(host, seen, need_tag=False)
    missing = [name for name in FOLDERS if name not in seen.folders]
    if missing:
        raise Fail(_("IMAP LIST shows {folders}; missing: {missing}",
                     folders=", ".join(seen.folders) or _("(nothing)"), missing=", ".join(missing)),
                   hint=_not_reloaded_hint(host, missing))
    unmarked = [name for name, flag in FOLDERS.items() if flag not in seen.folders[name]]
    if unmarked:
        raise Fail(_("these folders lack their special-use flag: {folders}", folders=", ".join(unmarked)),
                   hint=_("Keep `special_use = \\Sent` (and the others) from /etc/dovecot/conf.d/15-mailboxes.conf: "
                          "mail clients find the folders by these flags."))
    unsubscribed = [name for name in FOLDERS if name not in seen.subscribed]
    if unsubscribed:
        raise Fail(_("these folders exist but are not subscribed, so mail clients hide them: {folders}",
                     folders=", ".join(unsubscribed)),
                   hint=_("Use `auto = subscribe` (not `auto = create`) for each folder, then `doveadm reload`."))
    return _("IMAP LIST: {folders} (subscribed, with special-use flags)",
             folders=", ".join(f"{name} {flag}" for name, flag in FOLDERS.items()))


# --- helpers ------------------------------------------------------------------------------------

def _not_reloaded_hint(host, missing):
    """When the configuration already creates every missing folder, the running Dovecot has not read it."""
    if all(dovecot.setting(host, f"namespace/inbox/mailbox/{name}/auto") in ("create", "subscribe")
           for name in missing):
        return _("`doveconf` already shows `auto =` for {folders}, but the running Dovecot has not read it: "
                 "`doveadm reload`.", folders=", ".join(missing))
    return None


def _dovecot_runs(host):
    pids = dovecot.running(host)
    if not pids:
        state = dovecot.config_state(host)
        if not state.ok:
            raise Fail(_("Dovecot is not running, and `doveconf -n` says: {error}", error=state.error),
                       hint=_("Fix the configuration error first (the file and line are in the message), "
                              "then `service dovecot start`."))
        raise Fail(_("no dovecot process runs"))
    return _("the Dovecot master process runs (pid {pids})", pids=", ".join(map(str, pids)))


def _greeting(host, port):
    return host.world.greeting(MACHINE, port)


def _reaches_alice_through_dovecot(host, recipient):
    return _reaches_through_dovecot(host, recipient, ALICE)


def _reaches_through_dovecot(host, recipient, user):
    delivery = host.send_tagged("grader@example.test", recipient, subject="MailLab check: LMTP to Dovecot",
                                within=8)
    outcome = delivery.result_for(recipient)
    if outcome is None:
        raise Fail(delivery.summary(), hint=_("The message is not delivered yet: `postqueue -p` shows why it waits."))
    if "postfix/local" in outcome.line and outcome.status == "sent":
        raise Fail(_("local(8) delivered it itself ({reason}), not Dovecot", reason=outcome.reason),
                   hint=_("Postfix does not use mailbox_transport yet: `postfix reload`."))
    if outcome.status != "sent":
        location = dovecot.setting(host, "mail_location")
        fixed = "~" not in location and "%" not in location
        raise Fail(_("{queue_id}: {outcome}", queue_id=outcome.queue_id, outcome=outcome.describe()),
                   hint=_("mail_location = {value} is one fixed folder, not each user's own: write "
                          "`mail_location = maildir:~/Maildir`, then `doveadm reload` and `postqueue -f`.",
                          value=location) if fixed else _lmtp_hint(outcome.reason))
    found = dovecot.find_tagged(host, user, delivery.tag)
    if not found:
        raise Fail(_("Postfix says {outcome}, but `doveadm search -u {user}` does not find it ({error})",
                     outcome=outcome.describe(), user=user, error=found.error or _("no match")),
                   hint=_("Dovecot saved the message somewhere it does not read: check mail_location "
                          "(`doveconf mail_location`) and /var/log/dovecot.log."))
    home = f"/home/{user}/Maildir"
    if host.maildir(home).find_tag(delivery.tag) is None:
        raise Fail(_("Dovecot has the message for {user}, but not in {maildir} (mail_location = {value})",
                     user=user, maildir=home, value=dovecot.setting(host, "mail_location")),
                   hint=_("Set `mail_location = maildir:~/Maildir`, then `doveadm reload`."))
    return _("{queue_id}: {outcome}; in {maildir}", queue_id=outcome.queue_id, outcome=outcome.describe(), maildir=home)


def _lmtp_hint(reason):
    if "User doesn't exist" in reason and "@" in reason:
        return _("Dovecot looked up the whole address as a user name. Make it use the part before the @: "
                 "`auth_username_format = %Ln`, then `doveadm reload`.")
    if "No such file or directory" in reason:
        return _("Postfix finds no LMTP socket at that path: make Dovecot's unix_listener path and "
                 "mailbox_transport name the same socket, then `doveadm reload` and `postqueue -f`.")
    if "Permission denied" in reason:
        return _("The postfix user may not use Dovecot's LMTP socket: set `user = postfix` and "
                 "`group = postfix` in the unix_listener, then `doveadm reload` and `postqueue -f`.")
    if "Connection refused" in reason:
        return _("Nothing accepts connections on the LMTP socket: is Dovecot running? `service dovecot start`, "
                 "then `postqueue -f`.")
    return _("Read the reason in parentheses, then /var/log/dovecot.log; `postqueue -f` retries deferred mail.")


def _deliver_to_alice(host):
    delivery = host.send_tagged("grader@example.test", ALICE, subject="MailLab check: mail for alice", within=8)
    outcome = delivery.result_for(ALICE)
    if outcome is None or outcome.status != "sent" or "postfix/lmtp" not in outcome.line:
        raise Fail(_("a tagged message to alice was not handed to Dovecot: {summary}", summary=delivery.summary()),
                   hint=_("Delivery to alice's Maildir must work first: check the lmtp step again."))
    return delivery.tag


def _said(seen):
    """What a POP3 or IMAP session saw, in a sentence."""
    if not seen.connected:
        return _("the outside client could not connect to {protocol} on {address} port {port}: {error}",
                 protocol=seen.protocol, address=seen.host, port=seen.port, error=seen.error)
    if seen.error:
        return _("{protocol} on {address} port {port}: {error}", protocol=seen.protocol, address=seen.host,
                 port=seen.port, error=seen.error)
    if not seen.logged_in:
        return _("{protocol} from the outside client: the login as {user} was refused: {answer}",
                 protocol=seen.protocol, user=seen.user, answer=seen.login_error)
    return _("{protocol} from the outside client: {user} logged in; the mailbox has {count} message(s), "
             "but not the tagged one", protocol=seen.protocol, user=seen.user, count=seen.messages)


def _explain_retrieval(host, seen, need_tag=True):
    if not seen.connected or seen.error:
        raise Fail(_said(seen),
                   hint=_("Is Dovecot running and listening on every interface? `service dovecot status`, `ss -ltn`."))
    if not seen.logged_in:
        if "Plaintext authentication disallowed" in seen.login_error:
            if dovecot.setting(host, "disable_plaintext_auth") == "no":
                raise Fail(_said(seen),
                           hint=_("`doveconf disable_plaintext_auth` already says no, but the running Dovecot has "
                                  "not read it: `doveadm reload`."))
            raise Fail(_said(seen),
                       hint=_("Dovecot refuses passwords over a connection without TLS. For this lab network allow "
                              "them: `disable_plaintext_auth = no` (e.g. in /etc/dovecot/conf.d/99-plaintext.conf), "
                              "then `doveadm reload`. Lab 11 adds TLS."))
        raise Fail(_said(seen),
                   hint=_("alice's password is alice123 (`echo alice:alice123 | chpasswd`); "
                          "/var/log/dovecot.log says why the login failed."))
    if need_tag and not seen.found:
        raise Fail(_said(seen),
                   hint=_("The message was delivered, but alice's mailbox does not show it: does Dovecot read the "
                          "same place it delivers to? `doveconf mail_location`."))
