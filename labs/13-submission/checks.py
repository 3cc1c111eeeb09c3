"""Checks of lab 13, submission. Everything is proved from the outside client (203.0.113.10), the way
a mail client and a stranger on the Internet see the server: port 587 with STARTTLS and AUTH, port 25
for everyone; the socket between Postfix and Dovecot is read from outside the machine."""
import ipaddress
import posixpath

from grader import Fail, _, check, joined
from grader.inbound import submit
from grader.liveconf import require_live, running_or_not

SERVER = "192.0.2.10"
CLIENT = "203.0.113.10"
SUBMISSION = 587
SERVICE = "submission/inet"
ALICE = "alice"
ALICE_PASSWORD = "alice123"
ALICE_ADDRESS = "alice@example.test"
OUTSIDER = "friend@client.example"
REMOTE_RCPT = "user@remote.test"
RELOAD = _("main.cf or master.cf changed after Postfix last started or reloaded: run `postfix reload`.")


# --- helpers ---------------------------------------------------------------------------------

def _setting(host, name):
    """What port 587's smtpd uses: its -o override in master.cf, else main.cf."""
    value = host.postconf_service(SERVICE, name)
    if value is not None:
        return value, "master.cf"
    return host.postconf(name, expand=True) or "", "main.cf"


def _words(value):
    return (value or "").replace(",", " ").split()


def _wide_mynetworks(host):
    """The entries of mynetworks that take in the outside client."""
    value = host.postconf("mynetworks", expand=True) or ""
    client = ipaddress.ip_address(CLIENT)
    wide = []
    for entry in _words(value):
        try:
            net = ipaddress.ip_network(entry.replace("[", "").replace("]", ""), strict=False)
        except ValueError:
            continue
        if net.version == client.version and client in net:
            wide.append(entry)
    return value, wide


def _log_says(host, *words):
    """The last line of the mail log (its last 80 lines) holding all of `words`, or None."""
    lines = [line.text for line in host.maillog().lines()[-80:] if all(w in line.text for w in words)]
    return lines[-1] if lines else None


def _session(host, port=SUBMISSION, **options):
    """An SMTP session from the outside client; a Fail that says why when there is none."""
    talk = host.world.converse(SERVER, port, timeout=6, **options)
    if talk.connected and talk.ehlo is not None:
        return talk
    what = talk.error or _("no answer")
    if port == SUBMISSION and host.postconf_service(SERVICE, "command") is None:
        raise Fail(_("the outside client could not talk SMTP to {server} port {port}: {what}; master.cf has no "
                     "`submission inet` service", server=SERVER, port=port, what=what),
                   hint=_("Mail clients send on port 587, the submission service: add it to /etc/postfix/master.cf "
                          "(`submission inet n - y - - smtpd` and its `-o` lines below it), then `postfix reload`."))
    fatal = _log_says(host, "fatal:") or _log_says(host, "error:")
    if fatal:
        raise Fail(_("the outside client could not talk SMTP to {server} port {port}: {what}; the log says: {line}",
                     server=SERVER, port=port, what=what, line=fatal),
                   hint=_("Postfix's SMTP server stops at once with these settings: the log line names the "
                          "problem. Correct it in master.cf or main.cf, then `postfix reload`."))
    raise Fail(_("the outside client could not talk SMTP to {server} port {port}: {what}", server=SERVER, port=port,
                 what=what),
               hint=running_or_not(
                   host, stopped=_("Postfix must be running: `service postfix start`."),
                   running=_("Postfix runs, but does not answer on this port yet: the service in master.cf is "
                             "read by `postfix reload`; `postconf -M` lists what Postfix serves.")))


def _tls_session(host, **options):
    talk = _session(host, SUBMISSION, starttls=True, **options)
    if talk.tls is None:
        raise Fail(_("STARTTLS on port {port} did not work: {error}", port=SUBMISSION,
                     error=talk.error or _("no TLS session")),
                   hint=_("Port 587 uses the certificate of lab 11 like port 25: `grep -i tls /var/log/mail.log | "
                          "tail` says what is wrong."))
    return talk


def _why_a_stranger_relays(host, port, reply):
    value, wide = _wide_mynetworks(host)
    restrictions = [_setting(host, n) for n in ("smtpd_client_restrictions", "smtpd_relay_restrictions")]
    if wide:
        raise Fail(_("RCPT TO:<{rcpt}> on port {port} from the outside client ({client}), without AUTH: {reply}; "
                     "mynetworks = {value} includes {client} ({entries})", rcpt=REMOTE_RCPT, port=port, client=CLIENT,
                     reply=reply, value=value, entries=", ".join(wide)),
                   hint=_("permit_mynetworks lets in every client mynetworks lists, and {entries} takes in the whole "
                          "Internet: mail clients must log in instead. List only your own networks in mynetworks "
                          "(`postconf -e 'mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128'`), then "
                          "`postfix reload`.", entries=", ".join(wide)))
    raise Fail(_("RCPT TO:<{rcpt}> on port {port} from the outside client ({client}), without AUTH: {reply} "
                 "(smtpd_client_restrictions = {client_rules}, smtpd_relay_restrictions = {relay_rules})",
                 rcpt=REMOTE_RCPT, port=port, client=CLIENT, reply=reply, client_rules=restrictions[0][0] or _("(empty)"),
                 relay_rules=restrictions[1][0] or _("(empty)")))


def _stranger_cannot_relay(host, port):
    options = {"starttls": True} if port == SUBMISSION else {}
    talk = _session(host, port, mail_from=OUTSIDER, rcpts=[REMOTE_RCPT], **options)
    reply = talk.rcpt.get(REMOTE_RCPT) or talk.mail
    if reply is not None and reply.ok:
        _why_a_stranger_relays(host, port, reply)
    return _("port {port}, without AUTH: {reply}", port=port, reply=reply if reply is not None else talk.error)


# --- submission-port -------------------------------------------------------------------------

@check(step="submission-port", title=_("Postfix runs with the configuration in main.cf and master.cf"),
       hint=RELOAD)
def postfix_runs_with_the_saved_configuration(host):
    return require_live(host)


@check(step="submission-port", title=_("Port 587 answers the outside client"),
       hint=_("Mail clients send on port 587, the submission service: add it to /etc/postfix/master.cf "
              "(`submission inet n - y - - smtpd` and its `-o` lines below it), then `postfix reload`."))
def port_587_answers(host):
    talk = _session(host)
    return _("port {port}: {banner}", port=SUBMISSION, banner=talk.banner)


@check(step="submission-port", title=_("AUTH is never offered before STARTTLS"),
       hint=_("A password sent before STARTTLS crosses the network in clear text: give the submission service "
              "`-o smtpd_tls_auth_only=yes` in master.cf, then `postfix reload`."))
def no_auth_before_starttls(host):
    for port in (SUBMISSION, 25):
        talk = _session(host, port)
        if talk.auth_offered:
            where = _setting(host, "smtpd_tls_auth_only") if port == SUBMISSION else \
                (host.postconf("smtpd_tls_auth_only") or "", "main.cf")
            hint = None if port == SUBMISSION else _(
                "Port 25 offers AUTH because main.cf enables it for every smtpd: set smtpd_sasl_auth_enable only "
                "for the submission service (`-o smtpd_sasl_auth_enable=yes` in master.cf), remove it from main.cf "
                "(`postconf -X smtpd_sasl_auth_enable`), then `postfix reload`.")
            raise Fail(_("EHLO on port {port}, before STARTTLS, offers AUTH {mechanisms}: passwords would cross the "
                         "network in clear text (smtpd_tls_auth_only = {value}, from {where})", port=port,
                         mechanisms=talk.extensions.get("auth", "").strip(), value=where[0] or _("(empty)"), where=where[1]),
                       hint=hint)
    return _("before STARTTLS, neither port {port} nor port 25 offers AUTH", port=SUBMISSION)


@check(step="submission-port", title=_("Port 587 offers STARTTLS and refuses mail without it"),
       hint=_("Passwords and mail from clients must travel encrypted: give the submission service "
              "`-o smtpd_tls_security_level=encrypt` in master.cf, then `postfix reload`."))
def port_587_wants_tls_first(host):
    talk = _session(host, mail_from=ALICE_ADDRESS, rcpts=[ALICE_ADDRESS])
    if not talk.starttls_offered:
        raise Fail(_("EHLO on port {port} offers: {extensions}", port=SUBMISSION,
                     extensions=", ".join(talk.extensions) or _("(nothing)")))
    if talk.mail is not None and talk.mail.ok:
        level, where = _setting(host, "smtpd_tls_security_level")
        raise Fail(_("without STARTTLS, port {port} answered MAIL FROM with {reply} (smtpd_tls_security_level = "
                     "{level}, from {where})", port=SUBMISSION, reply=talk.mail, level=level or _("(empty)"),
                     where=where))
    return _("port {port} offers STARTTLS; without it, MAIL FROM is answered {reply}", port=SUBMISSION,
             reply=talk.mail if talk.mail is not None else talk.error)


@check(step="submission-port", title=_("A client that has not logged in cannot relay on port 587"),
       hint=_("Port 587 is for your own users, who log in: give the submission service "
              "`-o smtpd_client_restrictions=permit_sasl_authenticated,reject` in master.cf, then `postfix reload`."))
def a_stranger_cannot_relay_on_587(host):
    return _stranger_cannot_relay(host, SUBMISSION)


# --- sasl ------------------------------------------------------------------------------------

@check(step="sasl", title=_("Postfix runs with the configuration in main.cf and master.cf"), hint=RELOAD)
def postfix_runs_with_the_saved_configuration_now(host):
    return require_live(host)


@check(step="sasl", title=_("Postfix asks Dovecot, on a socket it can reach"),
       hint=_("Let Dovecot listen inside Postfix's queue folder (in a file of /etc/dovecot/conf.d: `service auth "
              "{ unix_listener /var/spool/postfix/private/auth { mode = 0660  user = postfix  group = postfix } }`, "
              "then `service dovecot restart`) and tell Postfix: `postconf -e smtpd_sasl_type=dovecot "
              "smtpd_sasl_path=private/auth`, then `postfix reload`."))
def postfix_finds_dovecot_auth_socket(host):
    """The socket smtpd connects to, as smtpd sees it: a relative smtpd_sasl_path is in the queue
    folder; an absolute one is inside the chroot when the service runs chrooted."""
    kind, where = _setting(host, "smtpd_sasl_type")
    if kind != "dovecot":
        raise Fail(_("smtpd_sasl_type = {value} (from {where}): Postfix asks Cyrus SASL, not Dovecot",
                     value=kind or _("(empty)"), where=where))
    path, where = _setting(host, "smtpd_sasl_path")
    queue = host.postconf("queue_directory", expand=True) or "/var/spool/postfix"
    chrooted = host.postconf_service(SERVICE, "chroot") == "y"  # "-" is n since Postfix 3.0
    if not path:
        raise Fail(_("smtpd_sasl_path is empty"))
    if path.startswith("/"):
        full = queue + path if chrooted else path
    else:
        full = posixpath.join(queue, path)
    found = host.file(full)
    if not found.is_socket:
        said = _("{path} is not a socket", path=full) if found.exists else _("there is no {path}", path=full)
        if path.startswith("/") and chrooted:
            hint = _("smtpd on port 587 runs chrooted in {queue} (the `y` in master.cf's chroot column), so it "
                     "looks for {full}. Put Dovecot's unix_listener inside the queue folder "
                     "(/var/spool/postfix/private/auth) and set `smtpd_sasl_path = private/auth`, then "
                     "`service dovecot restart` and `postfix reload`.", queue=queue, full=full)
        else:
            hint = _("smtpd_sasl_path and Dovecot's `unix_listener` in `service auth` must name the same socket: "
                     "`unix_listener /var/spool/postfix/private/auth` and `smtpd_sasl_path = private/auth`. "
                     "`doveconf -n` shows where Dovecot listens.")
        raise Fail(_("smtpd_sasl_path = {path} (from {where}): {said}", path=path, where=where, said=said), hint=hint)
    postfix = host.user("postfix")
    readable = (found.uid == postfix.uid or (found.gid == postfix.gid and found.mode & 0o060 == 0o060)
                or found.mode & 0o006 == 0o006)
    if not readable:
        raise Fail(_("{path} has mode {mode:04o}, owner uid {uid}, group gid {gid}: the user postfix cannot use it",
                     path=full, mode=found.mode, uid=found.uid, gid=found.gid),
                   hint=_("Give the socket to Postfix in Dovecot's unix_listener: `mode = 0660`, `user = postfix`, "
                          "`group = postfix`, then `service dovecot restart`."))
    return _("smtpd_sasl_type = dovecot, smtpd_sasl_path = {path}: the socket {full} is there for postfix",
             path=path, full=full)


@check(step="sasl", title=_("After STARTTLS, port 587 offers AUTH"),
       hint=_("Postfix offers AUTH where smtpd_sasl_auth_enable = yes: give the submission service "
              "`-o smtpd_sasl_auth_enable=yes` in master.cf, then `postfix reload`."))
def auth_offered_after_starttls(host):
    talk = _tls_session(host)
    if not talk.auth_offered_in_tls:
        raise Fail(_("EHLO inside TLS on port {port} offers: {extensions}", port=SUBMISSION,
                     extensions=", ".join(talk.extensions_tls) or _("(nothing)")))
    mechanisms = talk.extensions_tls.get("auth", "").strip()
    if "PLAIN" not in mechanisms.upper().split():
        raise Fail(_("AUTH {mechanisms}: no PLAIN, which every mail client speaks", mechanisms=mechanisms),
                   hint=_("Dovecot names the mechanisms: `auth_mechanisms = plain login`, then "
                          "`service dovecot restart`."))
    return _("inside TLS, port {port} offers AUTH {mechanisms}", port=SUBMISSION, mechanisms=mechanisms)


@check(step="sasl", title=_("alice logs in with her password"),
       hint=_("Read why in the log: `grep -i sasl /var/log/mail.log | tail -3`, and Dovecot's own log "
              "/var/log/dovecot.log."))
def alice_logs_in(host):
    log = host.maillog()
    mark = log.mark()
    talk = _tls_session(host, auth=(ALICE, ALICE_PASSWORD))
    if not talk.authenticated:
        said = talk.auth if talk.auth is not None else (talk.error or _("no answer"))
        lines = [line.text for line in log.lines(mark) if "SASL" in line.text or "sasl" in line.text]
        if lines:
            raise Fail(_("AUTH PLAIN as alice on port {port}: {reply}; the log says: {line}", port=SUBMISSION,
                         reply=said, line=lines[-1]))
        raise Fail(_("AUTH PLAIN as alice on port {port}: {reply}", port=SUBMISSION, reply=said))
    return _("AUTH PLAIN as alice on port {port}: {reply}", port=SUBMISSION, reply=talk.auth)


@check(step="sasl", title=_("A wrong password is refused"),
       hint=_("Dovecot took a wrong password: its passdb must check the system password (`doveconf -n passdb`), "
              "never `nopassword`."))
def a_wrong_password_is_refused(host):
    talk = _tls_session(host, auth=(ALICE, "not-" + ALICE_PASSWORD))
    if talk.authenticated:
        raise Fail(_("AUTH PLAIN as alice with a wrong password on port {port}: {reply}", port=SUBMISSION,
                     reply=talk.auth))
    return _("AUTH PLAIN as alice with a wrong password on port {port}: {reply}", port=SUBMISSION,
             reply=talk.auth if talk.auth is not None else talk.error)


# --- authenticated-relay ---------------------------------------------------------------------

@check(step="authenticated-relay", title=_("Postfix runs with the configuration in main.cf and master.cf"),
       hint=RELOAD)
def postfix_runs_with_the_saved_configuration_again(host):
    return require_live(host)


@check(step="authenticated-relay", title=_("alice, logged in on port 587, sends to {rcpt} and it arrives",
                                           rcpt=REMOTE_RCPT),
       hint=_("A client that logged in may relay when smtpd_relay_restrictions says so, before the rule that "
              "refuses: `postconf -e 'smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated "
              "reject_unauth_destination'`, then `postfix reload`."))
def alice_relays_to_remote_test(host):
    inbound = submit(host, SERVER, [REMOTE_RCPT], sender=ALICE_ADDRESS, subject="MailLab check: sent by alice",
                     port=SUBMISSION, starttls=True, auth=(ALICE, ALICE_PASSWORD), timeout=6)
    talk = inbound.smtp
    if talk.tls is None or not talk.authenticated:
        raise Fail(_("alice could not log in on port {port}: {what}", port=SUBMISSION,
                     what=talk.auth or talk.error or _("no answer")),
                   hint=_("Finish the step before this one first: alice must log in on port 587 after STARTTLS."))
    if not talk.delivered:
        refused = talk.rcpt.get(REMOTE_RCPT) or talk.data or talk.mail
        rules, where = _setting(host, "smtpd_relay_restrictions")
        words = _words(rules)
        if "permit_sasl_authenticated" in words and "reject_unauth_destination" in words and \
                words.index("reject_unauth_destination") < words.index("permit_sasl_authenticated"):
            raise Fail(_("logged in as alice, RCPT TO:<{rcpt}>: {reply}; smtpd_relay_restrictions = {rules} "
                         "(from {where})", rcpt=REMOTE_RCPT, reply=refused, rules=rules, where=where),
                       hint=_("Postfix reads the rules in order and stops at the first that decides: "
                              "reject_unauth_destination refuses alice before permit_sasl_authenticated is read. "
                              "Put permit_sasl_authenticated first, then `postfix reload`."))
        raise Fail(_("logged in as alice, RCPT TO:<{rcpt}>: {reply}; smtpd_relay_restrictions = {rules} "
                     "(from {where})", rcpt=REMOTE_RCPT, reply=refused or talk.error, rules=rules or _("(empty)"),
                     where=where))
    if inbound.log is None or not inbound.log.delivered:
        summary = inbound.log.summary() if inbound.log else _("nothing in the log")
        raise Fail(_("the server took alice's message, but: {summary}", summary=summary),
                   hint=_("Read the reason after status= in the log: `grep QUEUEID /var/log/mail.log`."))
    hops = host.world.trace(inbound.log)
    if not hops or hops[-1].where != "mx1":
        raise Fail(_("the message went: {journey}", journey=joined(" -> ", (h.describe() for h in hops))),
                   hint=_("Mail for remote.test should reach its MX host, mx1.remote.test."))
    return _("alice on port {port}: {journey}", port=SUBMISSION,
             journey=joined(" -> ", (h.describe() for h in hops)))


@check(step="authenticated-relay", title=_("A stranger without AUTH still cannot relay, on port 587 or 25"),
       hint=_("Only clients that logged in may relay: smtpd_relay_restrictions must end with "
              "reject_unauth_destination, and mynetworks list only your own networks."))
def strangers_still_cannot_relay(host):
    return joined("; ", [_stranger_cannot_relay(host, SUBMISSION), _stranger_cannot_relay(host, 25)])


@check(step="authenticated-relay", title=_("Port 25 still takes mail for {rcpt} from anyone", rcpt=ALICE_ADDRESS),
       hint=_("smtpd_relay_restrictions in main.cf is read on port 25 too, where other mail servers never log in: "
              "end it with reject_unauth_destination (it refuses only mail for other domains), not with reject, "
              "then `postfix reload`."))
def port_25_still_takes_mail_for_example_test(host):
    talk = _session(host, 25, mail_from=OUTSIDER, rcpts=[ALICE_ADDRESS])
    reply = talk.rcpt.get(ALICE_ADDRESS) or talk.mail
    if reply is None or not reply.ok:
        rules = host.postconf("smtpd_relay_restrictions", expand=True) or ""
        raise Fail(_("RCPT TO:<{rcpt}> on port 25 from the outside client: {reply} (smtpd_relay_restrictions = "
                     "{rules})", rcpt=ALICE_ADDRESS, reply=reply if reply is not None else talk.error,
                     rules=rules or _("(empty)")))
    return _("RCPT TO:<{rcpt}> on port 25 from the outside client: {reply}", rcpt=ALICE_ADDRESS, reply=reply)
