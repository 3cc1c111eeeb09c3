"""Checks of lab 03, basic-config. The first two steps read main.cf (what Postfix will use); the
reload step proves what the running Postfix does: its greeting, the sender address of local mail,
and mail for example.test delivered to a local mailbox."""
import re

from grader import Fail, _, check
from grader.liveconf import require_live, require_running
from grader.reach import describe_greeting, smtp_greeting

DOMAIN = "example.test"
FQDN = "mail.example.test"
MAIN_CF = "/etc/postfix/main.cf"
IDENTITY = ("myhostname", "mydomain", "myorigin")
OTHER_CLASSES = ("relay_domains", "virtual_alias_domains", "virtual_mailbox_domains")


def names_in(value):
    """A list parameter's values ("a, b c") as lower-case names."""
    return [name.lower() for name in (value or "").replace(",", " ").split()]


def set_twice(host, names):
    """Duplicate-key warnings of `postconf -n` for these parameters (Fail when postconf cannot read main.cf)."""
    try:
        lint = host.postconf_lint()
    except Fail as exc:
        for name in names:
            if indented_line(host, name):
                fail_with_indent_hint(host, name, exc.detail)
        raise Fail(exc.detail, hint=_("postconf cannot read main.cf: open /etc/postfix/main.cf and fix the "
                                      "setting the message names.")) from None
    return [w.text for w in lint.overrides if w.parameter in names]


def indented_line(host, name):
    """A main.cf line that sets `name` but starts with a space: Postfix reads it as the
    continuation of the line before, so the setting is lost."""
    text = host.file(MAIN_CF).text
    match = re.search(rf"^[ \t]+{name}\s*=.*$", text, re.MULTILINE)
    return match.group(0).strip() if match else None


def fail_with_indent_hint(host, name, detail, hint=None):
    """Fail; when main.cf sets `name` on an indented line, that is the hint (it explains the value)."""
    line = indented_line(host, name)
    if line:
        raise Fail(detail, hint=_("main.cf has the line `{line}`, but it starts with a space, so Postfix reads it "
                                  "as the rest of the line above it. Remove the leading space.", line=line))
    raise Fail(detail, hint=hint)


SHELL_ATE_THE_DOLLAR = _(
    "Your shell replaced each `$name` before postconf saw it (in double quotes or none, `$mydomain` is a "
    "shell variable, and the shell has none): the value came out empty. Put the whole setting in single "
    "quotes, e.g. `postconf -e 'myorigin = $mydomain'`, so that Postfix gets the `$` itself.")


def _shell_ate_a_reference(raw):
    """A list whose `$` references the shell expanded to nothing: empty items, or names cut off at a dot
    (`localhost.` from `localhost.$mydomain`)."""
    items = [item.strip() for item in raw.split(",")]
    return bool(raw.strip()) and (any(not item for item in items) or any(i.endswith(".") for i in items))


def origin_of(host):
    """The domain myorigin gives (Debian's myorigin = /etc/mailname means: the name in that file)."""
    value = host.postconf("myorigin", expand=True) or ""
    if value.startswith("/"):
        return host.file(value).text.strip().lower(), value
    return value.lower(), value


# --- identity ------------------------------------------------------------------------------

@check(step="identity", title=_("Each identity setting appears once in main.cf"),
       hint=_("main.cf sets a parameter twice, and the last line wins. Keep one line per parameter: "
              "delete the others (or let `postconf -e` edit the file for you)."))
def identity_settings_appear_once(host):
    twice = set_twice(host, IDENTITY)
    if twice:
        raise Fail(_("`postconf -n` warns: {warnings}", warnings="; ".join(twice)))
    return _("myhostname, mydomain and myorigin are each set at most once")


@check(step="identity", title=_("myhostname is {fqdn}", fqdn=FQDN),
       hint=_("myhostname is the server's full name, host and domain: "
              "`postconf -e myhostname={fqdn}`.", fqdn=FQDN))
def myhostname_is_the_full_name(host):
    value = host.postconf("myhostname", expand=True)
    if value is None:
        raise Fail(_("postconf is missing: Postfix is not installed"))
    if value.lower() != FQDN:
        if "." not in value:
            fail_with_indent_hint(host, "myhostname",
                                  _("myhostname = {value}: a bare host name, without its domain", value=value),
                                  hint=_("`{value}` is only the host part. Give the full name, "
                                         "`postconf -e myhostname={fqdn}`.", value=value, fqdn=FQDN))
        fail_with_indent_hint(host, "myhostname", _("myhostname = {value}", value=value))
    return _("myhostname = {value}", value=value)


@check(step="identity", title=_("mydomain is {domain}", domain=DOMAIN),
       hint=_("mydomain is the domain part of the server's name: `postconf -e mydomain={domain}`.", domain=DOMAIN))
def mydomain_is_the_lab_domain(host):
    value = (host.postconf("mydomain", expand=True) or "").lower()
    if value == DOMAIN:
        return _("mydomain = {value}", value=value)
    if value == FQDN:
        raise Fail(_("mydomain = {value}: that is the server's full name", value=value),
                   hint=_("mydomain is the domain without the host part: `postconf -e mydomain={domain}`.",
                          domain=DOMAIN))
    if "mydomain" not in host.postconf_lint().settings:
        raise Fail(_("mydomain is not set, so Postfix makes it up from myhostname: {value}", value=value or "?"),
                   hint=_("Set it yourself: `postconf -e mydomain={domain}` (or fix myhostname first).",
                          domain=DOMAIN))
    fail_with_indent_hint(host, "mydomain", _("mydomain = {value}", value=value))


@check(step="identity", title=_("Mail from local users leaves as user@{domain}", domain=DOMAIN),
       hint=_("myorigin is the domain added to local names such as root: set `postconf -e 'myorigin = $mydomain'`."))
def myorigin_is_the_domain(host):
    origin, value = origin_of(host)
    if not value.strip():  # its default, $myhostname, is never empty: it was set to nothing
        raise Fail(_("myorigin is set in main.cf, but to nothing"), hint=SHELL_ATE_THE_DOLLAR)
    if origin == DOMAIN:
        return _("myorigin = {value}: mail from root leaves as root@{origin}", value=value, origin=origin)
    if value.startswith("/"):
        fail_with_indent_hint(host, "myorigin", _("myorigin = {value}, and that file says {origin}", value=value,
                                                  origin=origin or _("(nothing)")),
                              hint=_("myorigin takes the name in {file}: write {domain} there, or set "
                                     "`postconf -e 'myorigin = $mydomain'`.", file=value, domain=DOMAIN))
    if origin in (FQDN, "mail") or origin == (host.postconf("myhostname", expand=True) or "").lower():
        fail_with_indent_hint(host, "myorigin", _("myorigin = {value}: mail from root would leave as root@{origin}",
                                                  value=value, origin=origin),
                              hint=_("That is the host's name, not the domain: replies would go to one machine's "
                                     "name. Use `postconf -e 'myorigin = $mydomain'`."))
    fail_with_indent_hint(host, "myorigin", _("myorigin = {value}: mail from root would leave as root@{origin}",
                                              value=value, origin=origin))


# --- destinations --------------------------------------------------------------------------

@check(step="destinations", title=_("mydestination appears once in main.cf"),
       hint=_("main.cf sets mydestination twice, and the last line wins. Keep one mydestination line."))
def mydestination_appears_once(host):
    twice = set_twice(host, ("mydestination",))
    if twice:
        raise Fail(_("`postconf -n` warns: {warnings}", warnings="; ".join(twice)))
    return _("mydestination is set at most once")


@check(step="destinations", title=_("{domain} is a local destination", domain=DOMAIN),
       hint=_("Add the domain to mydestination: "
              "`postconf -e 'mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain'`."))
def mydestination_includes_the_domain(host):
    raw = host.postconf("mydestination") or ""
    names = names_in(host.postconf("mydestination", expand=True))
    if DOMAIN not in names:
        if "$mydomain" in raw or "${mydomain}" in raw:
            raise Fail(_("mydestination = {raw} expands to {names}", raw=raw, names=", ".join(names)),
                       hint=_("mydestination names $mydomain, but mydomain is not {domain}: fix it first "
                              "(step 1).", domain=DOMAIN))
        if _shell_ate_a_reference(raw):
            raise Fail(_("mydestination = {raw}: {domain} is not in it, and the names around it are cut short",
                         raw=raw, domain=DOMAIN), hint=SHELL_ATE_THE_DOLLAR)
        fail_with_indent_hint(host, "mydestination",
                              _("mydestination = {raw}: {domain} is not in it", raw=raw, domain=DOMAIN))
    return _("mydestination includes {domain}", domain=DOMAIN)


@check(step="destinations", title=_("The server's own names are local destinations too"),
       hint=_("Keep the server's own names in mydestination, or mail to root@{fqdn} and root@localhost "
              "goes astray: start the list with `$myhostname, localhost.$mydomain, localhost`.", fqdn=FQDN))
def mydestination_includes_the_host_names(host):
    names = names_in(host.postconf("mydestination", expand=True))
    missing = [name for name in (FQDN, "localhost") if name not in names]
    if missing:
        raise Fail(_("mydestination expands to {names}; missing: {missing}",
                     names=", ".join(names), missing=", ".join(missing)))
    return _("mydestination expands to {names}", names=", ".join(names))


@check(step="destinations", title=_("{domain} has one address class only", domain=DOMAIN),
       hint=_("A domain is either local (mydestination), relayed or virtual, never two at once: "
              "remove {domain} from the other parameter.", domain=DOMAIN))
def the_domain_is_in_one_class_only(host):
    for name in OTHER_CLASSES:
        if DOMAIN in names_in(host.postconf(name, expand=True)):
            raise Fail(_("{domain} is in mydestination and also in {name}", domain=DOMAIN, name=name))
    return _("{domain} is only in mydestination", domain=DOMAIN)


# --- reload --------------------------------------------------------------------------------

@check(step="reload", title=_("Postfix is running"), hint=_("Start Postfix: `service postfix start`."))
def postfix_is_running(host):
    return require_running(host)


@check(step="reload", title=_("The running Postfix has read main.cf since it last changed"),
       hint=_("Postfix reads main.cf when it starts or reloads, not when you save the file: run `postfix reload`."))
def postfix_has_read_main_cf_since_its_last_change(host):
    return require_live(host)


@check(step="reload", title=_("The server greets as {fqdn}", fqdn=FQDN),
       hint=_("The running server does not use the name in main.cf: run `postfix reload` (and check "
              "smtpd_banner, which should start with $myhostname)."))
def the_server_greets_with_its_full_name(host):
    # The grader's own connection to the machine's port 25: the first line of a new SMTP session,
    # "220 NAME ESMTP ...", as the running server sends it (no program inside is asked).
    talk = smtp_greeting(host)
    if not talk.connected or talk.banner is None:
        raise Fail(_("nothing answers on 127.0.0.1 port 25: {said}", said=describe_greeting(talk)),
                   hint=_("Postfix's SMTP server does not answer: `service postfix restart`, then look at "
                          "/var/log/mail.log."))
    greeting = describe_greeting(talk)
    words = greeting.split()
    if len(words) < 2 or words[1].lower() != FQDN:
        raise Fail(_("the server greets: {greeting}", greeting=greeting))
    return _("the server greets: {greeting}", greeting=greeting)


def original_recipient(line):
    fields = line.fields
    return (fields.get("orig_to") or fields.get("to") or "").lower()


@check(step="reload", title=_("You sent a message to an address @{domain}", domain=DOMAIN),
       hint=_("Send a message to the domain yourself, e.g. "
              "`printf 'Subject: Hello\\n\\nHi\\n' | sendmail postmaster@{domain}`, then check again.", domain=DOMAIN))
def you_sent_mail_to_the_domain(host):
    lines = host.maillog().lines()
    ids = {line.queue_id: line.text for line in lines
           if line.program == "postfix/cleanup" and line.queue_id and line.text.startswith("message-id=")}
    mine = [line for line in lines if line.queue_id in ids and "maillab-" not in ids[line.queue_id]
            and line.text.startswith("to=<") and original_recipient(line).endswith(("@" + DOMAIN, "@" + FQDN))]
    delivered = [line for line in mine if line.program == "postfix/local" and "status=sent" in line.text]
    if delivered:
        last = delivered[-1]
        return _("{queue_id}: {to} {status}", queue_id=last.queue_id, to=original_recipient(last),
                 status=last.text.split("status=", 1)[1])
    if mine:
        raise Fail(_("your message to {to} was not delivered here: {line}", to=original_recipient(mine[-1]),
                     line=mine[-1].text),
                   hint=_("Postfix sent it on instead of delivering it (relay= is not local): the running Postfix "
                          "does not count {domain} as its own. Fix mydestination, `postfix reload`, and send "
                          "again.", domain=DOMAIN))
    raise Fail(_("the mail log shows no message of yours to an address @{domain}", domain=DOMAIN))


def delete_if_queued(host, delivery):
    """A tagged message Postfix could not deliver is not left behind in the learner's queue."""
    for queue_id in delivery.queue_ids:
        host.run("postsuper", "-d", queue_id)


@check(step="reload", title=_("Mail from root leaves as root@{domain}", domain=DOMAIN),
       hint=_("Mail from root does not carry the domain: check myorigin (step 1), then `postfix reload`."))
def mail_from_root_leaves_as_root_at_the_domain(host):
    delivery = host.send_tagged("root", "root", subject="MailLab check: sender address", within=5)
    if not delivery.delivered:
        delete_if_queued(host, delivery)
        raise Fail(delivery.summary(), hint=_("A message from root to root was not delivered: read the log lines of "
                                              "its queue id in /var/log/mail.log."))
    message = host.mailbox("root").find(delivery.message_id)
    if message is None:
        raise Fail(_("the log says delivered ({summary}), but /var/mail/root does not hold it",
                     summary=delivery.summary()))
    sender = (message.header("Return-Path") or "").strip("<> ")
    if sender.lower() != f"root@{DOMAIN}":
        raise Fail(_("a message from root arrived with Return-Path: <{sender}>", sender=sender))
    return _("a message from root arrived with Return-Path: <{sender}>", sender=sender)


@check(step="reload", title=_("Mail for {domain} is delivered here", domain=DOMAIN),
       hint=_("Postfix did not deliver mail for {domain} itself: it must list {domain} in mydestination "
              "(step 2), and the running Postfix must have read it (`postfix reload`).", domain=DOMAIN))
def mail_for_the_domain_is_delivered_here(host):
    rcpts = [f"postmaster@{DOMAIN}", f"root@{FQDN}"]
    delivery = host.send_tagged(f"grader@{DOMAIN}", rcpts, subject="MailLab check: mail for the domain", within=5)
    if not delivery.delivered:
        delete_if_queued(host, delivery)
        raise Fail(delivery.summary())
    local = [o for r in rcpts for o in delivery.outcomes_for(r) if o.relay == "local"]
    if len(local) < len(rcpts) or delivery.message_id not in host.mailbox("root"):
        raise Fail(_("the message was not delivered to /var/mail/root: {summary}", summary=delivery.summary()))
    return _("postmaster@{domain} and root@{fqdn} reached /var/mail/root ({summary})", domain=DOMAIN, fqdn=FQDN,
             summary=delivery.summary())


@check(step="reload", title=_("Mail for {domain} from another computer is delivered here", domain=DOMAIN),
       hint=_("An Internet Site takes mail for {domain} from any computer, not only from sendmail inside: "
              "read what the server answered.", domain=DOMAIN))
def mail_for_the_domain_from_another_computer_is_delivered_here(host):
    """The grader's own SMTP conversation from a stranger's address (grader.outside), for both kinds
    of the server's own addresses (@domain and @fqdn): port 25 is open to other hosts and smtpd
    counts both as local for a client outside mynetworks."""
    from grader import outside

    if not outside.can_send(host):
        return _("no network to send from (a test machine)")
    hint = _("Postfix does not take mail for {domain} from strangers: it must list {domain} in mydestination "
             "(step 2), and the running Postfix must have read it (`postfix reload`).", domain=DOMAIN)
    sent = outside.require_taken(host, [f"postmaster@{DOMAIN}", f"root@{FQDN}"], domain_hint=hint,
                                 subject="MailLab check: mail for the domain from outside")
    return outside.require_in(host, sent, {"/var/mail/root": lambda: host.mailbox("root")})
