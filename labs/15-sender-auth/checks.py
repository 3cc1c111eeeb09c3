"""Checks of lab 15, sender authentication. What the learner publishes is read from the lab's DNS
server, as any mail server on the Internet reads it; what it is worth is said by mx1.remote.test,
a remote mail server that checks SPF, DKIM and DMARC on everything it receives (with dkimpy and
pyspf) and records its verdict. The forged sender is sent from the outside client, on port 25."""
from grader import Fail, _, check, restrictions
from grader.inbound import submit
from grader.liveconf import require_live, running_or_not

SERVER = "192.0.2.10"
CLIENT_ADDRESS = "203.0.113.10"
DOMAIN = "example.test"
SELECTOR = "mail"
KEY_NAME = f"{SELECTOR}._domainkey.{DOMAIN}"
DMARC_NAME = f"_dmarc.{DOMAIN}"
ALICE = "alice@example.test"
ALICE_LOGIN = ("alice", "alice123")
HONEST_SENDER = "friend@client.example"
REMOTE_RCPT = "user@remote.test"
ZONE_FILE = "/etc/nsd/example.test.zone"
POLICY = "check_policy_service"
# postscreen (lab 14) keeps a new client waiting 6 s before Postfix's SMTP server greets.
WAIT = 10
RELOAD = _("main.cf or master.cf changed after Postfix last started or reloaded: run `postfix reload`.")


def _publish(name):
    return _("Add the record to {zone}, check the file with `nsd-checkzone example.test {zone}`, then load it with "
             "`nsd-control reload example.test`; `dig +short txt {name}` shows what the world sees.",
             zone=ZONE_FILE, name=name)


def _then(first, second):
    """Two sentences of a hint, each translated."""
    return _("{first} {second}", first=first, second=second)


# --- helpers ---------------------------------------------------------------------------------

def _records(host, name, prefix):
    """The TXT records at `name` that start with `prefix` (as the lab's DNS server answers)."""
    return [r for r in host.world.resolve_txt(name) if r.lower().startswith(prefix.lower())]


def _nsd_hint(host):
    """The hint when nsd, which serves the learner's records, is not running; else None."""
    if not any(p.comm == "nsd" or p.comm.startswith("nsd:") for p in host.processes()):
        return _("nsd, the DNS server of example.test, is not running: `service nsd start`, then "
                 "`tail /var/log/nsd.log`.")
    return None


def _alice_mail(host):
    """alice's tagged message, sent from her laptop on port 587 to user@remote.test: the message as
    mx1.remote.test stored it (with its verdicts), or a Fail that says where it stopped."""
    inbound = submit(host, SERVER, [REMOTE_RCPT], sender=ALICE, subject="MailLab check: sent by alice",
                     port=587, starttls=True, auth=ALICE_LOGIN, timeout=WAIT)
    talk = inbound.smtp
    if not talk.authenticated or not talk.delivered:
        raise Fail(_("alice, logged in on port 587, could not send to {rcpt}: {what}", rcpt=REMOTE_RCPT,
                     what=talk.rcpt.get(REMOTE_RCPT) or talk.data or talk.auth or talk.error or _("no answer")),
                   hint=_("Port 587 worked at the end of lab 14: `tail /var/log/mail.log` says what changed."))
    found = host.wait_for(lambda: host.world.find_received(message_id=inbound.message_id), within=10)
    if found is None:
        summary = inbound.log.summary() if inbound.log else _("nothing in the log")
        raise Fail(_("mx1.remote.test did not receive alice's message: {summary}", summary=summary),
                   hint=_("Read the reason after status= in the log: `grep QUEUEID /var/log/mail.log`."))
    message = found[1]
    if not message.verdicts:
        raise Fail(_("mx1.remote.test received alice's message but recorded no verdict"))
    return message


def _verdict(message, kind):
    verdict = message.verdicts.get(kind) or {}
    return verdict.get("result", "none"), verdict


def _said(verdict):
    return verdict.get("reason") or verdict.get("explanation") or _("no reason given")


def _one_spf_record(host):
    records = _records(host, DOMAIN, "v=spf1")
    if not records:
        apex = host.world.resolve_txt(DOMAIN)
        raise Fail(_("example.test has no SPF record (TXT records: {records})",
                     records=", ".join(f'"{r}"' for r in apex) or _("none")),
                   hint=_nsd_hint(host) or _then(_("Publish who sends mail for example.test, as a TXT record of "
                                                   "the zone itself: `@ IN TXT \"v=spf1 mx -all\"` (mx: the hosts of "
                                                   "its MX records)."), _publish(DOMAIN)))
    if len(records) > 1:
        raise Fail(_("example.test has {count} SPF records: {records}", count=len(records),
                     records=", ".join(f'"{r}"' for r in records)),
                   hint=_then(_("A domain may publish one SPF record only (with two, every check ends in "
                                "permerror): merge them into one."), _publish(DOMAIN)))
    return records[0]


# --- spf -------------------------------------------------------------------------------------

@check(step="spf", title=_("example.test publishes one SPF record that ends in -all"),
       hint=_("Publish who sends mail for example.test: `@ IN TXT \"v=spf1 mx -all\"` in {zone}, then "
              "`nsd-control reload example.test`.", zone=ZONE_FILE))
def example_test_publishes_spf(host):
    record = _one_spf_record(host)
    last = record.split()[-1].lower()
    if last != "-all":
        raise Fail(_("example.test publishes \"{record}\", which ends in {last}", record=record, last=last),
                   hint=_then(_("Only -all tells receivers to refuse mail from any other server (~all: accept it "
                                "but mark it, ?all: say nothing). Your server is the only one that sends for "
                                "example.test: end the record with -all."), _publish(DOMAIN)))
    return _("example.test: \"{record}\"", record=record)


@check(step="spf", title=_("alice's mail passes SPF at mx1.remote.test"),
       hint=_("Your own server must be in the record: `mx` names the hosts of example.test's MX records."))
def alice_passes_spf(host):
    result, verdict = _verdict(_alice_mail(host), "spf")
    if result == "pass":
        return _("mx1.remote.test: spf=pass ({reason})", reason=_said(verdict))
    hints = {
        "permerror": _then(_("The record does not parse: mx1 says what it could not read. A record is `v=spf1`, "
                             "then mechanisms such as mx, a, ip4:ADDRESS, then all with its qualifier."),
                           _publish(DOMAIN)),
        "none": _then(_("mx1 found no SPF record for example.test: is it loaded?"), _publish(DOMAIN)),
        "temperror": _("mx1 could not read the record in time: is nsd running (`service nsd status`)?"),
    }
    raise Fail(_("mx1.remote.test: spf={result} ({reason})", result=result, reason=_said(verdict)),
               hint=hints.get(result, _then(_("The record does not name your server, {address}: `mx` (the hosts "
                                              "of example.test's MX records) or `ip4:{address}` does.",
                                              address=SERVER), _publish(DOMAIN))))


@check(step="spf", title=_("Postfix refuses a stranger that claims to send from example.test"),
       hint=_("Let Postfix ask policyd-spf about every sender: install postfix-policyd-spf-python, add its service "
              "to master.cf, add `check_policy_service unix:private/policyd-spf` after reject_unauth_destination in "
              "smtpd_recipient_restrictions, then `postfix reload`."))
def a_forged_sender_is_refused(host):
    talk = host.world.converse(SERVER, 25, timeout=WAIT, mail_from=ALICE, rcpts=[ALICE])
    if not talk.connected or talk.banner is None or talk.banner.code != 220:
        raise Fail(_("the outside client could not talk SMTP to {server} port 25: {what}", server=SERVER,
                     what=talk.error or _("no answer")),
                   hint=running_or_not(host, stopped=_("Postfix must be running: `service postfix start`."),
                                       running=_("`tail /var/log/mail.log` says what went wrong.")))
    reply = talk.rcpt.get(ALICE) or talk.mail
    if reply is not None and not reply.ok and "SPF" in reply.text.upper():
        return _("from {address}, MAIL FROM:<{sender}>: {reply}", address=CLIENT_ADDRESS, sender=ALICE, reply=reply)
    said = _("from {address}, MAIL FROM:<{sender}>: {reply}", address=CLIENT_ADDRESS, sender=ALICE,
             reply=reply if reply is not None else talk.error)
    if reply is not None and not reply.ok:
        raise Fail(said, hint=_("The stranger was refused, but not by SPF: the reply names the rule. Make sure the "
                                "SPF check is reached for this client."))
    if not any(s.command == "spawn" and "policyd-spf" in s.line for s in host.master_services()):
        raise Fail(said, hint=_("master.cf has no policyd-spf service: add `policyd-spf unix - n n - 0 spawn "
                                "user=policyd-spf argv=/usr/bin/policyd-spf` (postconf -M ...), then "
                                "`postfix reload`."))
    hint = restrictions.placement(host, POLICY, CLIENT_ADDRESS)
    if hint is None:
        hint = _("Postfix asks policyd-spf, yet let the stranger in: the record must end in -all (`dig +short txt "
                 "example.test`), and the service line in master.cf must run /usr/bin/policyd-spf.")
    raise Fail(said, hint=hint)


@check(step="spf", title=_("An honest server's mail for alice still arrives"),
       hint=_("A rule refuses honest mail: the reply names it."))
def honest_mail_still_arrives(host):
    return _honest_mail_arrives(host)


def _honest_mail_arrives(host):
    return restrictions.honest_mail_arrives(
        host, SERVER, ALICE, sender=HONEST_SENDER, address=CLIENT_ADDRESS, timeout=WAIT,
        refused_hint=_("client.example publishes no SPF record: policyd-spf must let such mail in (result none). "
                       "The reply names the rule that refused it."))


# --- dkim ------------------------------------------------------------------------------------

@check(step="dkim", title=_("Postfix runs with the configuration in main.cf"), hint=RELOAD)
def postfix_runs_with_the_saved_configuration(host):
    return require_live(host)


@check(step="dkim", title=_("The public key is published at {name}", name=KEY_NAME),
       hint=_("opendkim-genkey wrote the record beside the key (mail.txt): add it to {zone}, then "
              "`nsd-control reload example.test`.", zone=ZONE_FILE))
def the_public_key_is_published(host):
    keys = [r for r in host.world.resolve_txt(KEY_NAME) if "p=" in r]
    if not keys:
        raise Fail(_("{name} has no DKIM key record", name=KEY_NAME),
                   hint=_nsd_hint(host) or _then(_("The key record's name is SELECTOR._domainkey.DOMAIN: for the "
                                                   "selector mail, `mail._domainkey`. opendkim-genkey writes it "
                                                   "ready to paste (mail.txt)."), _publish(KEY_NAME)))
    if len(keys) > 1:
        raise Fail(_("{name} has {count} key records", name=KEY_NAME, count=len(keys)),
                   hint=_then(_("One selector, one key: a receiver cannot use a name with two. Keep the record of the "
                                "key OpenDKIM signs with (the mail.txt beside its KeyFile) and delete the other from "
                                "the zone."), _publish(KEY_NAME)))
    record = keys[0]
    return _("{name}: \"{start}...\" ({length} characters)", name=KEY_NAME, start=record[:40], length=len(record))


@check(step="dkim", title=_("mx1.remote.test verifies the DKIM signature of alice's mail"),
       hint=_("Sign with OpenDKIM: `Domain example.test`, `Selector mail`, `KeyFile` and `Socket inet:8891@localhost` "
              "in /etc/opendkim.conf; `smtpd_milters = inet:localhost:8891` (and non_smtpd_milters) in main.cf; "
              "restart OpenDKIM, reload Postfix."))
def mx1_verifies_the_dkim_signature(host):
    mark = host.maillog().mark()
    result, verdict = _verdict(_alice_mail(host), "dkim")
    domain, selector = verdict.get("domain") or "", verdict.get("selector") or ""
    said = _("mx1.remote.test: dkim={result} ({reason})", result=result, reason=_said(verdict))
    if result == "pass" and domain.lower() == DOMAIN:
        return _("mx1.remote.test: dkim=pass, d={domain}, s={selector}", domain=domain, selector=selector)
    if result == "pass":
        raise Fail(_("mx1.remote.test: dkim=pass, but signed as d={domain}", domain=domain),
                   hint=_("Sign as the domain in alice's From: address: `Domain example.test` in /etc/opendkim.conf."))
    if result == "none":
        raise Fail(said, hint=_no_signature_hint(host, mark))
    if selector and selector != SELECTOR and not host.world.resolve_txt(f"{selector}._domainkey.{domain or DOMAIN}"):
        raise Fail(said, hint=_("The signature names the selector {selector}, but the key is published for the "
                                "selector {expected} ({name}). Make them the same: `Selector {expected}` in "
                                "/etc/opendkim.conf (then `service opendkim restart`), or publish the key under "
                                "{selector}._domainkey.", selector=selector, expected=SELECTOR, name=KEY_NAME))
    if result == "fail":
        raise Fail(said, hint=_("The signature does not match the published key: OpenDKIM signs with one key and "
                                "DNS holds another. Publish the record opendkim-genkey wrote beside the KeyFile "
                                "OpenDKIM uses (mail.txt next to mail.private), then `nsd-control reload "
                                "example.test`."))
    raise Fail(said, hint=_nsd_hint(host) or _("mx1 could not use the published key: `dig +short txt {name}` shows "
                                               "it; it must be the whole of mail.txt, every quoted part.",
                                               name=KEY_NAME))


def _no_signature_hint(host, mark):
    """Why alice's message left unsigned: no milter, a milter Postfix cannot reach, or OpenDKIM not signing."""
    milters = host.postconf("smtpd_milters", expand=True)
    if not milters:
        return _("Postfix hands no message to OpenDKIM: `postconf -e smtpd_milters=inet:localhost:8891 "
                 "non_smtpd_milters=inet:localhost:8891`, then `postfix reload`.")
    failed = [line.text for line in host.maillog().lines(mark) if "milter" in line.text.lower()
              and ("connect" in line.text.lower() or "fail" in line.text.lower())]
    if failed:
        return _("Postfix could not reach the milter ({milters}): \"{line}\". Is OpenDKIM running and listening "
                 "there (`ss -ltnp | grep opendkim`; `Socket` in /etc/opendkim.conf)?", milters=milters,
                 line=failed[-1][-200:])
    return _("Postfix reached the milter ({milters}), yet OpenDKIM did not sign: /etc/opendkim.conf needs `Domain "
             "example.test`, `Selector mail` and the `KeyFile` (readable by the opendkim user); then "
             "`service opendkim restart`.", milters=milters)


# --- dmarc -----------------------------------------------------------------------------------

def _dmarc_tags(record):
    tags = {}
    for part in record.split(";"):
        key, eq, value = part.strip().partition("=")
        if eq:
            tags.setdefault(key.strip().lower(), value.strip())
    return tags


@check(step="dmarc", title=_("{name} publishes a DMARC record with a policy and a report address", name=DMARC_NAME),
       hint=_("Publish `_dmarc IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.test\"` in {zone}, "
              "then `nsd-control reload example.test`.", zone=ZONE_FILE))
def example_test_publishes_dmarc(host):
    records = _records(host, DMARC_NAME, "v=DMARC1")
    if not records:
        apex = _records(host, DOMAIN, "v=DMARC1")
        hint = _then(_("The DMARC record lives at _dmarc.example.test, not at example.test itself: name it "
                       "`_dmarc` in the zone."), _publish(DMARC_NAME)) if apex else (_nsd_hint(host)
                                                                                    or _publish(DMARC_NAME))
        raise Fail(_("{name} has no DMARC record (v=DMARC1)", name=DMARC_NAME), hint=hint)
    if len(records) > 1:
        raise Fail(_("{name} has {count} DMARC records", name=DMARC_NAME, count=len(records)),
                   hint=_then(_("Receivers ignore a domain with two DMARC records: keep one."), _publish(DMARC_NAME)))
    record = records[0]
    tags = _dmarc_tags(record)
    if not record.replace(" ", "").lower().startswith("v=dmarc1;"):
        raise Fail(_("{name}: \"{record}\"", name=DMARC_NAME, record=record),
                   hint=_("A DMARC record starts with exactly `v=DMARC1;` (then p=...)."))
    if tags.get("p", "").lower() not in ("none", "quarantine", "reject"):
        raise Fail(_("{name}: \"{record}\" has p={policy}", name=DMARC_NAME, record=record,
                     policy=tags.get("p") or _("(missing)")),
                   hint=_then(_("The policy p= is required and is one of none (only report), quarantine (to the "
                                "spam folder) or reject."), _publish(DMARC_NAME)))
    if not tags.get("rua", "").lower().startswith("mailto:"):
        raise Fail(_("{name}: \"{record}\" asks for no reports", name=DMARC_NAME, record=record),
                   hint=_then(_("Add `rua=mailto:postmaster@example.test`: receivers send their daily reports "
                                "there, and they tell you who sends mail in your name."), _publish(DMARC_NAME)))
    return _("{name}: \"{record}\"", name=DMARC_NAME, record=record)


@check(step="dmarc", title=_("alice's mail passes DMARC at mx1.remote.test"),
       hint=_("DMARC passes when SPF or DKIM passes for the domain in From: (example.test): finish the SPF and DKIM "
              "steps first."))
def alice_passes_dmarc(host):
    message = _alice_mail(host)
    result, verdict = _verdict(message, "dmarc")
    spf, _spf = _verdict(message, "spf")
    dkim, _dkim = _verdict(message, "dkim")
    if result == "pass":
        return _("mx1.remote.test: dmarc=pass (p={policy}; spf={spf}, dkim={dkim})", policy=verdict.get("policy"),
                 spf=spf, dkim=dkim)
    raise Fail(_("mx1.remote.test: dmarc={result} ({reason}; spf={spf}, dkim={dkim})", result=result,
                 reason=_said(verdict), spf=spf, dkim=dkim),
               hint=_("DMARC needs SPF or DKIM to pass for example.test, the domain of alice's From: address: "
                      "the SPF and DKIM steps say what to fix.") if result == "fail" else _publish(DMARC_NAME))
