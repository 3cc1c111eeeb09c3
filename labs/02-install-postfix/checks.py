"""Checks of lab 02, install-postfix. Each proves a state from the live machine, in step order."""
from grader import Fail, _, check
from grader.liveconf import postfix_master, require_running
from grader.reach import can_reach, describe_greeting, smtp_greeting, speaks_smtp

DOMAIN = "example.test"
CHROOT = "/var/spool/postfix"
MAILLOG = "/var/log/mail.log"
# Files Debian's init script copies into Postfix's chroot so chrooted programs can look up names.
CHROOT_COPIES = ("etc/resolv.conf", "etc/hosts", "etc/nsswitch.conf", "etc/services")


# --- install -------------------------------------------------------------------------------

@check(step="install", title=_("Postfix is installed"),
       hint=_("Install Postfix from the machine's local repository: "
              "`apt-get update && apt-get install -y postfix` (preseed the two debconf answers first)."))
def postfix_is_installed(host):
    pkg = host.package("postfix")
    if not pkg.installed:
        raise Fail(_("postfix is not installed ({status})", status=pkg.status))
    return _("postfix {version} is installed", version=pkg.version)


@check(step="install", hint=_("Postfix was installed with \"No configuration\", so there is no main.cf. "
                                "Start over: `apt-get purge -y postfix`, preseed the two answers "
                                "(`postfix postfix/main_mailer_type select Internet Site` and "
                                "`postfix postfix/mailname string {domain}`) with debconf-set-selections, "
                                "then `apt-get install -y postfix`.", domain=DOMAIN),
       title=_("Postfix has a main.cf"))
def postfix_has_a_main_cf(host):
    main_cf = host.file("/etc/postfix/main.cf")
    if not main_cf.is_file:
        raise Fail(_("/etc/postfix/main.cf does not exist"))
    return _("/etc/postfix/main.cf exists ({size} bytes)", size=main_cf.size)


# What an Internet Site has where debconf's "Local only" differs (it sets all three).
INTERNET_SITE = {"inet_interfaces": ("all",), "default_transport": ("smtp",), "relay_transport": ("relay", "smtp")}


def local_only_leftovers(host):
    """The settings of INTERNET_SITE that still hold another value, as "name = value" (all of them,
    so a learner who undid one of Local only's three changes is told of the other two)."""
    wrong = []
    for name, right in INTERNET_SITE.items():
        value = host.postconf(name) or ""
        if value.strip() not in right:
            wrong.append(f"{name} = {value}")
    return wrong


@check(step="install", hint=_("Choose \"Internet Site\": this server must listen on every interface "
                                "and deliver mail itself, with no relay host."),
       title=_("Configured as an Internet Site"))
def configured_as_an_internet_site(host):
    """Proves every setting by which the debconf types differ: inet_interfaces (takes mail from other
    computers), default_transport and relay_transport (sends mail to other domains; "Local only"
    sets both to `error`, which bounces it all), relayhost (sends it itself, not via a smarthost),
    and inet_protocols not empty (`dpkg-reconfigure postfix` after a "No configuration" install
    writes it empty here: every network service is then disabled)."""
    if not (host.postconf("inet_protocols") or "").strip():
        raise Fail(_("inet_protocols is empty: Postfix turns off every network service"),
                   hint=_("Postfix must speak IPv4 and IPv6 on the network: `postconf -e inet_protocols=all`."))
    wrong = local_only_leftovers(host)
    if wrong and not any(w.startswith("inet_interfaces ") for w in wrong):
        # It listens everywhere (a learner who opened inet_interfaces after "Local only"), and still
        # cannot send one message out: name what is left, and the postconf that undoes just that.
        fix = " ".join(f"{w.split(' =')[0]}={INTERNET_SITE[w.split(' =')[0]][0]}" for w in wrong)
        raise Fail(_("{settings} (an Internet Site has default_transport = smtp, relay_transport = relay)",
                     settings=", ".join(wrong)),
                   hint=_("Postfix listens on every interface now, but \"Local only\" also set {settings}: every "
                          "message to another domain bounces (mail transport unavailable). Set what an Internet "
                          "Site has: `postconf -e {fix}`.", settings=", ".join(wrong), fix=fix))
    if wrong:
        raise Fail(_("{settings} (an Internet Site has inet_interfaces = all, default_transport = smtp, "
                     "relay_transport = relay)", settings=", ".join(wrong)),
                   hint=_("This looks like \"Local only\", which listens on loopback only and sets "
                          "default_transport and relay_transport to `error`, so mail to any other domain "
                          "bounces. Undo all three, as an Internet Site has them: "
                          "`postconf -e inet_interfaces=all default_transport=smtp relay_transport=relay`."))
    relayhost = host.postconf("relayhost")
    if relayhost:
        raise Fail(_("relayhost = {value} (an Internet Site sends mail itself)", value=relayhost),
                   hint=_("This looks like a smarthost or satellite set-up: clear it with "
                          "`postconf -e relayhost=`."))
    return _("inet_interfaces = all, default_transport = smtp, relayhost is empty")


@check(step="install", hint=_("The system mail name is the domain of your addresses, {domain}: "
                                "write it to /etc/mailname (`echo {domain} > /etc/mailname`).", domain=DOMAIN),
       title=_("The system mail name is {domain}", domain=DOMAIN))
def mail_name_is_the_lab_domain(host):
    mailname = host.file("/etc/mailname")
    if not mailname.is_file:
        raise Fail(_("/etc/mailname does not exist"))
    name = mailname.text.strip()
    if name != DOMAIN:
        raise Fail(_("/etc/mailname says {name}", name=repr(name)))
    return _("/etc/mailname says {name}", name=DOMAIN)


@check(step="install", hint=_("Postfix must accept mail for {domain} as its own: add it to mydestination, "
                                "e.g. `postconf -e 'mydestination = $myhostname, {domain}, localhost'`.",
                                domain=DOMAIN),
       title=_("{domain} is a local destination", domain=DOMAIN))
def lab_domain_is_a_local_destination(host):
    destinations = host.postconf("mydestination", expand=True) or ""
    names = {d.strip().lower() for d in destinations.replace(",", " ").split()}
    if DOMAIN not in names:
        raise Fail(_("mydestination expands to: {value}", value=destinations or _("(nothing)")))
    return _("mydestination includes {domain}", domain=DOMAIN)


# --- start ---------------------------------------------------------------------------------

@check(step="start", title=_("Postfix is running"),
       hint=_("Start Postfix with `service postfix start` (there is no systemd here)."))
def postfix_is_running(host):
    # As `postfix status` decides it, but read by the grader: a `postfix` replaced inside has no say.
    if not host.file("/usr/sbin/postfix").exists:
        raise Fail(_("the postfix command is missing"), hint=_("Install Postfix first (step 1)."))
    master = postfix_master(host)
    if master.pid is None:
        raise Fail(_("Postfix is not running: {said}", said=master.said))
    return master.said


@check(step="start", hint=_("Postfix runs, but nothing listens on port 25: check `inet_interfaces` and "
                              "the `smtp inet` line in /etc/postfix/master.cf, then `postfix reload`."),
       title=_("SMTP port 25 is listening"))
def smtp_port_25_is_listening(host):
    sockets = host.listening(25)
    if not sockets:
        raise Fail(_("`ss -ltn` shows no socket on port 25"))
    shown = ", ".join(s.describe() for s in sockets)
    if not can_reach(host):
        return _("listening on {sockets}", sockets=shown)
    # The grader's own SMTP conversation: what really answers there, whatever programs inside say.
    talk = smtp_greeting(host)
    if not speaks_smtp(talk):
        raise Fail(_("port 25 is open, but the grader's own SMTP connection got: {answer}",
                     answer=describe_greeting(talk)),
                   hint=_("Something other than Postfix's SMTP server holds port 25, or it does not answer: "
                          "`service postfix restart`, then read /var/log/mail.log."))
    return _("listening on {sockets}; the grader's own connection was greeted: {greeting}", sockets=shown,
             greeting=describe_greeting(talk))


@check(step="start", title=_("Postfix writes its log file"),
       hint=_("There is no syslog here, so Postfix must write its own log: "
              "`postconf -e maillog_file=/var/log/mail.log`, then `postfix reload`."))
def postfix_writes_its_log_file(host):
    """Proves the one file the course reads: maillog_file is MAILLOG (any other path is a log no hint
    or later check looks at), the file exists, and postfix/master wrote its start or reload there."""
    path = host.postconf("maillog_file", expand=True)
    if not path:
        raise Fail(_("maillog_file is empty: Postfix's log goes nowhere"))
    if path != MAILLOG:
        raise Fail(_("maillog_file = {path}: Postfix logs there, not to {maillog}", path=path, maillog=MAILLOG),
                   hint=_("This course (and Debian) reads the mail log in {maillog}: "
                          "`postconf -e maillog_file={maillog}`, then `postfix reload`.", maillog=MAILLOG))
    log = host.maillog()
    if not host.file(path).exists:
        raise Fail(_("maillog_file = {path}, but that file does not exist yet", path=path),
                   hint=_("The setting is not live yet: run `postfix reload` (or restart Postfix)."))
    started = [line for line in log.lines() if line.program == "postfix/master"
               and ("daemon started" in line.text or "reload" in line.text)]
    if not started:
        raise Fail(_("{path} has no line from postfix/master saying it started or reloaded", path=path),
                   hint=_("The setting is not live yet: run `postfix reload` (or `service postfix restart`)."))
    return _("{path}: {line}", path=path, line=started[-1].text)


@check(step="start", hint=_("Postfix's chroot lacks copies of system files, so its programs cannot look "
                              "up host names. Start it with `service postfix start` (which copies them), or "
                              "run `service postfix restart` now."),
       title=_("The chroot has the name service files"))
def chroot_has_the_name_service_files(host):
    missing, stale = [], []
    for rel in CHROOT_COPIES:
        inside = host.file(f"{CHROOT}/{rel}")
        original = host.file(f"/{rel}")
        if not inside.exists:
            missing.append(f"{CHROOT}/{rel}")
        elif original.exists and inside.content != original.content:
            stale.append(f"{CHROOT}/{rel}")
    if missing:
        detail = _("missing in the chroot: {files}", files=", ".join(missing))
        if postfix_master(host).pid is not None:  # `service postfix start` would do nothing now
            raise Fail(detail, hint=_("Postfix runs, but it was started without Debian's start script (a bare "
                                      "`postfix start`?), which copies these files into the chroot. Run "
                                      "`service postfix restart`: it copies them and starts Postfix again."))
        raise Fail(detail)
    if stale:
        raise Fail(_("different from the original (stale copies): {files}", files=", ".join(stale)),
                   hint=_("The chroot copies are out of date: `service postfix restart` refreshes them."))
    return _("the chroot has {files}", files=", ".join(CHROOT_COPIES))


# --- local-delivery ------------------------------------------------------------------------

@check(step="local-delivery", hint=_("Postfix must be running to deliver: `service postfix start`."),
       title=_("Postfix is running"))
def postfix_is_running_for_delivery(host):
    return require_running(host)


@check(step="local-delivery", title=_("You sent a message to a local mailbox"),
       hint=_("Send root a message yourself: `printf 'Subject: Hi\\n\\nHello\\n' | sendmail root`, "
              "then check again."))
def you_sent_a_message_to_a_local_mailbox(host):
    log = host.maillog()
    if not host.file(log.path).exists:
        raise Fail(_("{path} does not exist", path=log.path),
                   hint=_("Postfix's log file is gone: run `postfix reload` so Postfix opens it again, "
                          "then send your message once more."))
    lines = log.lines()
    ids = {line.queue_id: line.text for line in lines
           if line.program == "postfix/cleanup" and line.queue_id and line.text.startswith("message-id=")}
    yours = [line for line in lines
             if line.program == "postfix/local" and "status=sent" in line.text and line.queue_id in ids
             and "maillab-" not in ids[line.queue_id]]
    if not yours:
        failed = [line for line in lines if line.program == "postfix/local" and "status=" in line.text
                  and "status=sent" not in line.text]
        if failed:
            raise Fail(_("{path}: your message was not delivered: {line}", path=log.path, line=failed[-1].text),
                       hint=_("Read the log line: the reason is in parentheses after status=."))
        raise Fail(_("{path} shows no message of yours delivered to a local mailbox", path=log.path))
    last = yours[-1]
    return _("{path}: {queue_id}: {to} {status}", path=log.path, queue_id=last.queue_id,
             to=last.fields.get("to", "?"), status=last.text.split("status=", 1)[1])


@check(step="local-delivery", title=_("A tagged message to root reaches its mailbox"),
       hint=_("A message to root did not reach /var/mail/root: read the log lines of its queue id "
              "(`grep QUEUEID /var/log/mail.log`) and `postqueue -p`."))
def a_tagged_message_to_root_reaches_its_mailbox(host):
    delivery = host.send_tagged("grader@example.test", "root", subject="MailLab check: local delivery")
    if not delivery.delivered:
        raise Fail(delivery.summary())
    mailbox = host.mailbox("root")
    if delivery.message_id not in mailbox:
        raise Fail(_("the log says delivered ({summary}), but /var/mail/root does not hold message <{id}>",
                     summary=delivery.summary(), id=delivery.message_id),
                   hint=_("Mail for root should land in /var/mail/root: check `home_mailbox` and "
                          "`mailbox_command` in main.cf (they should be empty for this lab)."))
    return _("{summary}; found in /var/mail/root", summary=delivery.summary())


@check(step="local-delivery", title=_("Mail from another computer reaches root's mailbox"),
       hint=_("An Internet Site takes mail for {domain} from any computer, not only from sendmail inside: "
              "read what the server answered.", domain=DOMAIN))
def mail_from_another_computer_reaches_root(host):
    """The grader's own SMTP conversation from a stranger's address (grader.outside): proves port 25
    is open to other hosts (inet_interfaces, master.cf) and that smtpd takes {domain} from them."""
    from grader import outside

    if not outside.can_send(host):
        return _("no network to send from (a test machine)")
    sent = outside.require_taken(host, [f"root@{DOMAIN}"], subject="MailLab check: mail from outside")
    return outside.require_in(host, sent, {"/var/mail/root": lambda: host.mailbox("root")})
