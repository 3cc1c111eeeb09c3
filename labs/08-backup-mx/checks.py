"""Checks of lab 08, backup-mx: mail1 (192.0.2.10) is the primary MX of example.test, mail2
(192.0.2.20) the backup. Checks get mail1 as `host`; mail2 is `host.world.machine("mail2")`."""
from grader import Fail, _, check, joined
from grader.inbound import OUTSIDE_SENDER, send_from_outside
from grader.liveconf import require_live, running_or_not
from grader.maillog import outcome_of
from grader.tables import freshness, parse_tables

DOMAIN = "example.test"
MAIL1, MAIL2 = "192.0.2.10", "192.0.2.20"
ALICE = "alice@example.test"
UNKNOWN = "nobody-here@example.test"
THIRD = "someone@elsewhere.test"
RECIPIENTS_FILE = "/etc/postfix/relay_recipients"


# --- helpers ---------------------------------------------------------------------------------

def _mail2(host):
    return host.world.machine("mail2")


def _names(value):
    return {name.strip().lower() for name in (value or "").replace(",", " ").split()}



def _rcpt(host, server, rcpt):
    """What `server` answers the outside client for RCPT TO:<rcpt> (the conversation)."""
    talk = host.world.converse(server, mail_from=OUTSIDE_SENDER, rcpts=[rcpt], timeout=5)
    if not talk.connected or talk.error:
        raise Fail(_("the outside client could not talk to {server}: {error}", server=server,
                     error=talk.error or _("no answer")),
                   hint=_("Postfix must run on that machine and listen on every interface "
                          "(`postfix status`, `postconf inet_interfaces`)."))
    return talk, talk.rcpt.get(rcpt) or talk.mail


def _is_up(host, server):
    talk = host.world.converse(server, timeout=3)
    return talk.connected and talk.banner is not None and talk.banner.code == 220, talk


def _where_it_went(inbound):
    if not inbound.taken:
        return inbound.smtp.describe()
    return inbound.log.summary() if inbound.log else _("no log lines")


def _why_mail1_did_not_take_it(host, inbound):
    """A Fail naming why the outside client's message for alice did not land on mail1: mail1 cannot
    be reached from outside (not running, or listening on loopback only), or it refuses alice."""
    what = _where_it_went(inbound)
    talk = host.world.converse(MAIL1, mail_from=OUTSIDE_SENDER, rcpts=[ALICE], timeout=5)
    if not talk.connected or talk.error or talk.banner is None:
        raise Fail(_("mail1 did not take the message: {what}", what=what),
                   hint=_("The outside client cannot talk to mail1's port 25. Postfix must run on mail1 "
                          "(`postfix status`) and listen on every interface: inet_interfaces is {value} there "
                          "(`postconf -e inet_interfaces=all`, then `service postfix restart`).",
                          value=host.postconf("inet_interfaces") or _("(empty)")))
    reply = talk.rcpt.get(ALICE) or talk.mail
    if reply is not None and not reply.ok:
        raise Fail(_("mail1 did not take the message: {what}", what=what),
                   hint=_("mail1 refuses mail for its own user from outside. A final destination takes mail "
                          "for its users from anyone: look at smtpd_recipient_restrictions and "
                          "smtpd_relay_restrictions on mail1 (`postconf -n | grep restrictions`)."))
    raise Fail(_("mail1 did not take the message: {what}", what=what))


# --- primary ---------------------------------------------------------------------------------

@check(step="primary", title=_("mail1 is the final destination for {domain}", domain=DOMAIN),
       hint=_("On mail1, add {domain} to mydestination: `postconf -e 'mydestination = $myhostname, {domain}, "
              "localhost'`, then `postfix reload`.", domain=DOMAIN))
def mail1_is_the_final_destination_for_example_test(host):
    value = host.postconf("mydestination", expand=True)
    if DOMAIN not in _names(value):
        raise Fail(_("on mail1, mydestination expands to: {value}", value=value or _("(nothing)")))
    return _("on mail1, mydestination includes {domain}", domain=DOMAIN)


@check(step="primary", title=_("mail1 runs with the configuration in main.cf"),
       hint=_("main.cf changed after Postfix last started or reloaded: run `postfix reload` on mail1."))
def mail1_runs_with_the_saved_configuration(host):
    return require_live(host, "mail1")


@check(step="primary", title=_("Mail from outside for alice reaches her mailbox on mail1"),
       hint=_("Mail from the Internet for {rcpt} should go to mail1 (MX 10) and into /var/mail/alice there.",
              rcpt=ALICE))
def outside_mail_for_alice_reaches_her_mailbox_on_mail1(host):
    """Samples alice, the user the promise names: one message from the outside client, followed from
    the MX choice through mail1's log into her mailbox, so a closed port, a refusal, a wrong delivery
    place or a log that lies each fail here."""
    inbound = send_from_outside(host, DOMAIN, [ALICE], subject="MailLab check: mail for alice")
    if inbound.machine != "mail1":
        _why_mail1_did_not_take_it(host, inbound)
    if not inbound.log.delivered:
        raise Fail(_("mail1 took the message but: {summary}", summary=inbound.log.summary()))
    if inbound.message_id not in host.mailbox("alice"):
        raise Fail(_("the log says delivered ({summary}), but /var/mail/alice on mail1 does not hold <{id}>",
                     summary=inbound.log.summary(), id=inbound.message_id))
    return _("mail1 took it from the outside client and delivered it: {summary}; found in /var/mail/alice",
             summary=inbound.log.summary())


def _require_built(mail2, table):
    """The table file exists on mail2 and Postfix reads what it says (its indexed file, named by
    grader.tables for every table type, is built and not older than the source)."""
    fresh = freshness(mail2, table)
    build = f"postmap {table.name}" if table.type == "hash" else f"postmap {table}"
    if fresh.state == "no-source":
        raise Fail(_("on mail2, {path} does not exist", path=table.name),
                   hint=_("relay_recipient_maps names {table}, but there is no such file on mail2: check the "
                          "file name in main.cf (the recipient list is {file}).", table=str(table),
                          file=RECIPIENTS_FILE))
    if fresh.state == "not-built":
        raise Fail(_("on mail2, {db} does not exist", db=table.built_path),
                   hint=_("Build the table Postfix reads: `{command}` on mail2.", command=build))
    if fresh.state == "stale":
        raise Fail(_("on mail2, {path} is newer than {db}", path=table.name, db=table.built_path),
                   hint=_("You edited the list but Postfix still reads the old table: `{command}` on mail2.",
                          command=build))


# --- backup-relay ----------------------------------------------------------------------------

@check(step="backup-relay", title=_("{domain} is not a local destination on mail2", domain=DOMAIN),
       hint=_("mail2 is only the backup: with {domain} in its mydestination it would deliver the mail into "
              "its own mailboxes, where nobody reads it. Remove it: `postconf -e 'mydestination = $myhostname, "
              "localhost'` on mail2, then `postfix reload`.", domain=DOMAIN))
def example_test_is_not_final_on_mail2(host):
    value = _mail2(host).postconf("mydestination", expand=True)
    if DOMAIN in _names(value):
        raise Fail(_("on mail2, mydestination expands to: {value}", value=value))
    return _("on mail2, mydestination is: {value}", value=value or _("(nothing)"))


@check(step="backup-relay", title=_("mail2 relays for {domain}", domain=DOMAIN),
       hint=_("A backup MX relays for the domain: on mail2, `postconf -e relay_domains={domain}`, "
              "then `postfix reload`.", domain=DOMAIN))
def mail2_relays_for_example_test(host):
    value = _mail2(host).postconf("relay_domains", expand=True)
    if DOMAIN not in _names(value):
        raise Fail(_("on mail2, relay_domains is: {value}", value=value or _("(empty)")))
    return _("on mail2, relay_domains = {value}", value=value)


@check(step="backup-relay", title=_("mail2 knows which recipients exist"),
       hint=_("Without relay_recipient_maps mail2 takes mail for any name at {domain}, and must bounce what "
              "mail1 refuses later (backscatter). List the real addresses in {file} (`alice@{domain} OK`, one a "
              "line), run `postmap {file}`, and set `relay_recipient_maps = hash:{file}`.",
              domain=DOMAIN, file=RECIPIENTS_FILE))
def mail2_knows_the_real_recipients(host):
    """Every table of relay_recipient_maps is proven to exist and be built (freshness by
    grader.tables, so each table type's own file name), and one of them lists alice."""
    mail2 = _mail2(host)
    value = mail2.postconf("relay_recipient_maps", expand=True)
    tables = parse_tables(value)
    if not tables:
        raise Fail(_("on mail2, relay_recipient_maps is empty"))
    for table in tables:
        _require_built(mail2, table)
    found = [t for t in tables if mail2.postmap_query(ALICE, str(t)) is not None]
    if not found:
        raise Fail(_("on mail2, {rcpt} is in none of: {tables}", rcpt=ALICE, tables=value),
                   hint=_("Add `{rcpt} OK` to the recipient list, then `postmap` it.", rcpt=ALICE))
    return _("on mail2, relay_recipient_maps = {value}; it lists {rcpt}", value=value, rcpt=ALICE)


@check(step="backup-relay", title=_("mail2 runs with the configuration in main.cf"),
       hint=_("main.cf changed after Postfix last started or reloaded: run `postfix reload` on mail2."))
def mail2_runs_with_the_saved_configuration(host):
    return require_live(_mail2(host), "mail2")


@check(step="backup-relay", title=_("From outside, mail2 accepts mail for alice"),
       hint=_("mail2 must accept mail for the known recipients of {domain} from anywhere: check "
              "relay_domains and the recipient list on mail2.", domain=DOMAIN))
def mail2_accepts_mail_for_alice_from_outside(host):
    talk, reply = _rcpt(host, MAIL2, ALICE)
    if reply is None or not reply.ok:
        raise Fail(_("RCPT TO:<{rcpt}> from the outside client: {reply}", rcpt=ALICE, reply=reply))
    return _("RCPT TO:<{rcpt}> from the outside client: {reply}", rcpt=ALICE, reply=reply)


@check(step="backup-relay", title=_("From outside, mail2 refuses an unknown recipient at once"),
       hint=_("mail2 should refuse addresses that do not exist while the client is still connected, "
              "instead of taking the message and bouncing it later: set relay_recipient_maps on mail2."))
def mail2_refuses_an_unknown_recipient(host):
    """Samples one made-up name: with a recipient list mail2 refuses every name not in it, without one
    it takes every name, so one unknown name tells the two apart."""
    talk, reply = _rcpt(host, MAIL2, UNKNOWN)
    if reply is None or reply.ok:
        raise Fail(_("RCPT TO:<{rcpt}> from the outside client: {reply}", rcpt=UNKNOWN, reply=reply))
    return _("RCPT TO:<{rcpt}> from the outside client: {reply}", rcpt=UNKNOWN, reply=reply)


@check(step="backup-relay", title=_("mail2 is not an open relay"),
       hint=_("mail2 relays for {domain} only: a third domain from outside must be refused. Look at "
              "smtpd_relay_restrictions, mynetworks and relay_domains on mail2.", domain=DOMAIN))
def mail2_is_not_an_open_relay(host):
    """Samples one third domain from the outside client: relay permission does not depend on which
    foreign domain is asked for, only on relay_domains, mynetworks and the restrictions."""
    talk, reply = _rcpt(host, MAIL2, THIRD)
    if reply is None or reply.ok:
        raise Fail(_("RCPT TO:<{rcpt}> from the outside client: {reply}", rcpt=THIRD, reply=reply))
    return _("RCPT TO:<{rcpt}> from the outside client: {reply}", rcpt=THIRD, reply=reply)


def _mail2_down_hint(mail2):
    stopped = _("The backup must run while mail1 is down: start Postfix on mail2 "
                "(`service postfix start`), or `lab.node(\"mail2\", \"start\")` if the machine is stopped.")
    try:
        return running_or_not(mail2, stopped=stopped, running=_(
            "Postfix runs on mail2, but the outside client got no SMTP session there: check `inet_interfaces` "
            "and the `smtp inet` line of mail2's /etc/postfix/master.cf, then `service postfix restart` on mail2."))
    except Exception:  # the machine itself is stopped: nothing of it can be read
        return stopped


def _why_mail2_did_not_take_it(host, inbound):
    """A Fail naming why mail2 did not take the outside client's message while mail1 is down: its
    Postfix cannot be reached, it asks the dead mail1 whether alice exists, or it refuses her."""
    what = _where_it_went(inbound)
    mail2 = _mail2(host)
    talk = host.world.converse(MAIL2, mail_from=OUTSIDE_SENDER, rcpts=[ALICE], timeout=5)
    if not talk.connected or talk.error or talk.banner is None:
        raise Fail(_("mail2 did not take the message: {what}", what=what),
                   hint=_mail2_down_hint(mail2))
    reply = talk.rcpt.get(ALICE) or talk.mail
    restrictions = mail2.postconf("smtpd_recipient_restrictions") or ""
    if "reject_unverified_recipient" in restrictions or (reply is not None and "unverified" in str(reply)):
        raise Fail(_("mail2 did not take the message: {what}", what=what),
                   hint=_("mail2 asks mail1 whether the recipient exists (reject_unverified_recipient): while "
                          "mail1 is down it can only answer \"try later\", so nothing waits on mail2. A backup MX "
                          "knows the recipients from its own list (relay_recipient_maps): remove "
                          "reject_unverified_recipient on mail2, then `postfix reload`."))
    raise Fail(_("mail2 did not take the message: {what}", what=what),
               hint=_("mail2 must accept mail for {rcpt}: see the previous step.", rcpt=ALICE))


def _still_waiting(mail2, queue_ids):
    """mail2's queue entries of the message once the queue manager is done with it (a message still
    in the active queue may be about to bounce); [] when it left the queue."""
    return mail2.wait_for(lambda: [q for q in mail2.queue() if q.queue_id in queue_ids], within=5,
                          until=lambda found: not found or all(q.queue_name != "active" for q in found))


def _why_it_did_not_wait(mail2, queue_ids):
    """A Fail for a message mail2 deferred and then dropped from its queue (expired or bounced)."""
    lines = [line for qid in queue_ids for line in mail2.maillog().lines_for_queue_id(qid)
             if "status=expired" in line.text or "status=bounced" in line.text]
    if lines:
        raise Fail(_("mail2 deferred the message, then gave it up: {line}", line=lines[-1].text),
                   hint=_("mail2 must keep the mail for days, not bounce it at the first failed try: "
                          "maximal_queue_lifetime = {max}, bounce_queue_lifetime = {bounce} on mail2. Remove "
                          "them from main.cf (`postconf -X maximal_queue_lifetime bounce_queue_lifetime`), "
                          "then `postfix reload`.", max=mail2.postconf("maximal_queue_lifetime"),
                          bounce=mail2.postconf("bounce_queue_lifetime")))
    raise Fail(_("mail2's log says deferred, but its queue does not hold {ids}", ids=", ".join(queue_ids)),
               hint=_("Look at `postqueue -p` on mail2."))


# --- failover --------------------------------------------------------------------------------

@check(step="failover", title=_("mail1 is down"),
       hint=_("Take mail1 down: `lab.node(\"mail1\", \"stop\")` in the notebook (or `service postfix stop` "
              "on mail1)."))
def mail1_is_down(host):
    up, talk = _is_up(host, MAIL1)
    if up:
        raise Fail(_("mail1 answers on port 25: {banner}", banner=talk.banner))
    return _("mail1 does not take mail: {error}", error=talk.error or talk.banner)


@check(step="failover", title=_("Mail from outside waits in mail2's queue"),
       hint=_("With mail1 down, mail for {domain} should go to mail2 (MX 20) and wait in its queue.",
              domain=DOMAIN))
def outside_mail_waits_in_mail2s_queue(host):
    """One message from outside for alice, followed on mail2 until the queue manager is done with it:
    it must be deferred and still queued (an expired or bounced message passes through 'deferred' too)."""
    inbound = send_from_outside(host, DOMAIN, [ALICE], subject="MailLab check: while mail1 is down", within=12)
    if inbound.machine != "mail2":
        _why_mail2_did_not_take_it(host, inbound)
    log = inbound.log
    local = [o for o in log.outcomes if o.relay == "local" or (o.relay or "").startswith("local")]
    if local:
        raise Fail(_("mail2 delivered it into its own mailbox: {line}", line=local[-1].describe()),
                   hint=_("mail2 treats {domain} as its own: remove it from mydestination on mail2 (it belongs "
                          "in relay_domains), then `postfix reload`.", domain=DOMAIN))
    if not inbound.deferred():
        raise Fail(_("on mail2: {summary}", summary=log.summary()))
    queued = _still_waiting(_mail2(host), log.queue_ids)
    if not queued:
        _why_it_did_not_wait(_mail2(host), log.queue_ids)
    return _("mail1 refused, mail2 took it and keeps it: {queued}", queued=queued[0].describe())


# --- recovery --------------------------------------------------------------------------------

@check(step="recovery", title=_("mail1 takes mail again"),
       hint=_("Bring mail1 back: `lab.node(\"mail1\", \"start\")` in the notebook, or `service postfix start` "
              "on mail1 if you stopped only Postfix."))
def mail1_takes_mail_again(host):
    up, talk = _is_up(host, MAIL1)
    if not up:
        raise Fail(_("mail1 does not take mail: {error}", error=talk.error or talk.banner))
    return _("mail1 answers: {banner}", banner=talk.banner)


@check(step="recovery", title=_("Nothing for {domain} waits on mail2 any more", domain=DOMAIN),
       hint=_("mail2 retries waiting mail only every few minutes. Hand it over now: `postqueue -f` on mail2."),
       within=5)
def nothing_waits_on_mail2(host):
    waiting = [q for q in _mail2(host).queue() if any(r.address.endswith("@" + DOMAIN) for r in q.recipients)]
    if waiting:
        shown = joined("; ", (q.describe() for q in waiting))
        if any(" said: " in (r.delay_reason or "") for q in waiting for r in q.recipients):
            raise Fail(_("mail2's queue still holds: {queued}", queued=shown),
                       hint=_("mail2 did hand it over, but mail1 refused it (the reason is in brackets): mail1 must "
                              "be the final destination for {domain} again (mydestination on mail1, then `postfix "
                              "reload`); then `postqueue -f` on mail2.", domain=DOMAIN))
        raise Fail(_("mail2's queue still holds: {queued}", queued=shown))
    return _("mail2's queue is empty")


def _waited_on_mail2(mail2):
    """{queue id: (recipient, queue id on the next hop or None, how it left otherwise or None)} of
    every message that waited (was deferred) on mail2. A message that left without being handed
    over was given back to its sender (bounced, expired: that line), or deleted (postsuper logs no
    line per message: it is then simply no longer in the queue)."""
    waited, handed, gone = {}, {}, {}
    for line in mail2.maillog().lines():
        outcome = outcome_of(line)
        if outcome is None:
            continue
        if outcome.status in ("bounced", "expired"):
            gone.setdefault(outcome.queue_id, (outcome.status, line.text))
        if not line.program.endswith("/smtp"):
            continue
        if outcome.status == "deferred":
            waited.setdefault(outcome.queue_id, outcome.to)
        elif outcome.status == "sent" and outcome.queued_as:
            handed[outcome.queue_id] = outcome.queued_as
    return {qid: (rcpt, handed.get(qid), gone.get(qid)) for qid, rcpt in waited.items()}


def _never_handed_over(queue_id, rcpt, gone, queued_ids):
    """A Fail for a waiting message that never reached mail1, naming how it left mail2 if it did."""
    if gone is None and queue_id not in queued_ids:
        gone = ("removed", None)
    if gone is None:
        raise Fail(_("on mail2, {queue_id} (to {rcpt}) was never handed over to mail1", queue_id=queue_id,
                     rcpt=rcpt),
                   hint=_("Hand it over now: `postqueue -f` on mail2, then check again."))
    how, line = gone
    if how == "removed":
        raise Fail(_("on mail2, {queue_id} (to {rcpt}) was deleted from the queue, never handed over to mail1",
                     queue_id=queue_id, rcpt=rcpt),
                   hint=_("`postsuper -d` empties the queue by throwing the mail away: that message is lost. "
                          "Hand waiting mail over with `postqueue -f` on mail2 instead; to see this step pass, "
                          "do the failover step again (mail1 down, mail from outside) and then recover."))
    raise Fail(_("on mail2, {queue_id} (to {rcpt}) was given back to its sender, not delivered: {line}",
                 queue_id=queue_id, rcpt=rcpt, line=line),
               hint=_("mail1 refused the mail mail2 handed over, so mail2 bounced it: read the reason in that "
                      "line. mail1 must be the final destination for {domain} again (mydestination on mail1, then "
                      "`postfix reload`).", domain=DOMAIN))


def _holds(mailbox, queue_id):
    """Does the mailbox hold the message mail1 received as `queue_id` (its Received: header says so)?"""
    return any(f"id {queue_id}" in " ".join(message.headers.get_all("Received") or [])
               for message in mailbox.messages())


@check(step="recovery", title=_("The mail that waited on mail2 is in its mailbox on mail1"),
       hint=_("Follow it: `grep QUEUEID /var/log/mail.log` on mail2 names the queue id it got on mail1 "
              "(`queued as ...`); grep that on mail1."))
def the_waiting_mail_reached_its_mailbox_on_mail1(host):
    """Every message that ever waited on mail2 (its log), followed to mail1's mailbox; one that left
    mail2 otherwise is named by how (bounced, expired, deleted)."""
    waited = _waited_on_mail2(_mail2(host))
    if not waited:
        raise Fail(_("mail2's log shows no message that waited for mail1"),
                   hint=_("Do the failover step first: with mail1 down, send mail for {rcpt} from outside.",
                          rcpt=ALICE))
    journeys = []
    queued_ids = {q.queue_id for q in _mail2(host).queue()}
    for queue_id, (rcpt, newid, gone) in waited.items():
        if newid is None:
            _never_handed_over(queue_id, rcpt, gone, queued_ids)
        # mail1 may still be delivering what it was just handed: wait for its outcome.
        outcomes = host.wait_for(
            lambda: [o for line in host.maillog().lines_for_queue_id(newid) if (o := outcome_of(line))],
            within=10)
        if not any(o.status == "sent" and o.relay == "local" for o in outcomes):
            shown = joined("; ", (o.describe() for o in outcomes)) or _("no delivery yet")
            raise Fail(_("mail2 handed {queue_id} over as {newid}, and on mail1: {shown}",
                         queue_id=queue_id, newid=newid, shown=shown))
        user = rcpt.split("@", 1)[0]
        if not _holds(host.mailbox(user), newid):
            raise Fail(_("mail1 delivered {newid}, but /var/mail/{user} does not hold it", newid=newid, user=user))
        journeys.append(_("mail2 {queue_id} -> mail1 {newid} -> /var/mail/{user}",
                          queue_id=queue_id, newid=newid, user=user))
    return joined("; ", journeys)
