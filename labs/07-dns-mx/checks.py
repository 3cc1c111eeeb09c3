"""Checks of lab 07, dns-mx. Each proves a state from the live machine and the lab network."""
import re

from grader import Fail, _, check, joined
from grader.liveconf import require_live, require_running
from grader.reach import dns_query

LAB_DNS = "192.0.2.53"
REMOTE = "remote.test"
RECIPIENT = "user@remote.test"
SENDER = "root@example.test"
CHROOT_RESOLV = "/var/spool/postfix/etc/resolv.conf"
EXPECTED_MX = [(10, "mx1.remote.test"), (20, "mx2.remote.test")]
MAX_CONNECT_TIMEOUT = 10  # seconds: a silent primary should cost seconds, not half a minute
_TIME = re.compile(r"^(\d+)([smhdw]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


# --- helpers ---------------------------------------------------------------------------------

def _nameserver_list(host):
    text = host.file("/etc/resolv.conf").text
    return [line.split()[1] for line in text.splitlines() if line.startswith("nameserver") and len(line.split()) > 1]


def _nameservers(host):
    return ", ".join(_nameserver_list(host)) or _("(none)")


def _ask_like_the_resolver(host, name, rtype):
    """(server, records) from the first name server in the machine's /etc/resolv.conf that answers, asked by
    the grader itself from the machine's network as the machine's resolver would (at most three, in order);
    (None, []) when none answers. No program of the machine is asked."""
    for server in _nameserver_list(host)[:3]:
        try:
            return server, dns_query(host, server, name, rtype)
        except Fail:
            continue
    return None, []


def _lab_dns_is_asked_first(host):
    """The first nameserver line is the lab DNS. Checked because a dead server before it still lets
    every lookup succeed, after a wait of seconds each time (the resolver asks in order)."""
    first = _nameserver_list(host)[0]
    if first != LAB_DNS:
        raise Fail(_("/etc/resolv.conf names {first} first, which does not answer: every lookup waits for it "
                     "before asking {dns}", first=first, dns=LAB_DNS),
                   hint=_("The resolver asks the name servers in order. Keep only the line `nameserver {dns}` in "
                          "/etc/resolv.conf (or put it first), then `service postfix restart`.", dns=LAB_DNS))


def _nameserver_lines(text):
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("nameserver")]
    return "; ".join(lines) or _("no nameserver line")


def _journey(hops):
    return joined(" -> ", (hop.describe() for hop in hops)) or _("nowhere")


def _transport_entry(host, domain):
    """The transport map entry that routes `domain`, as (table, value), or None."""
    tables = (host.postconf("transport_maps", expand=True) or "").replace(",", " ").split()
    for table in tables:
        if ":" not in table:
            continue
        try:
            value = host.postmap_query(domain, table)
        except Fail:
            continue
        if value:
            return table, value
    return None


def _dns_turned_off(host):
    """The setting that keeps Postfix's smtp client from asking DNS (so from finding MX records), or None."""
    if (host.postconf("disable_dns_lookups") or "").strip().lower() == "yes":
        return "disable_dns_lookups = yes"
    level = (host.postconf("smtp_dns_support_level") or "").strip().lower()
    if level == "disabled":
        return "smtp_dns_support_level = disabled"
    lookup = (host.postconf("smtp_host_lookup") or "").replace(",", " ").split()
    if lookup and "dns" not in lookup:
        return "smtp_host_lookup = " + " ".join(lookup)
    return None


def _not_by_mx_lookup(host, journey):
    """Raise when a setting makes Postfix skip remote.test's MX records, whatever the outcome: a
    relayhost, a transport map entry that names one host, DNS turned off, or remote.test taken as local."""
    relayhost = host.postconf("relayhost")
    if relayhost:
        raise Fail(_("relayhost = {value}, so the message went: {journey}", value=relayhost, journey=journey),
                   hint=_("A relay host takes all outgoing mail, whatever the MX records say. This server "
                          "delivers by MX itself: clear it with `postconf -e relayhost=` and `postfix reload`."))
    entry = _transport_entry(host, REMOTE)
    if entry and "[" in entry[1]:
        raise Fail(_("{table} sends {domain} to {value}, so the message went: {journey}",
                     table=entry[0], domain=REMOTE, value=entry[1], journey=journey),
                   hint=_("A transport map entry forces one host and skips the MX lookup: remove the line "
                          "for {domain} from the transport map, run `postmap` on it, then `postfix reload`.",
                          domain=REMOTE))
    off = _dns_turned_off(host)
    if off:
        raise Fail(_("{setting}, so the message went: {journey}", setting=off, journey=journey),
                   hint=_("With {setting} Postfix does not ask DNS and finds no MX records. Remove it (`postconf -X "
                          "{name}`), then `postfix reload`.", setting=off, name=off.split(" =")[0]))
    local = host.postconf("mydestination", expand=True) or ""
    if REMOTE in {name.strip().lower() for name in local.replace(",", " ").split()}:
        raise Fail(_("mydestination includes {domain}, so the message went: {journey}", domain=REMOTE,
                     journey=journey),
                   hint=_("{domain} is a remote domain: with it in mydestination, Postfix delivers its mail "
                          "locally and it never leaves the machine. Remove {domain} from mydestination, then "
                          "`postfix reload`.", domain=REMOTE))


def _why_not_by_mx(host, delivery, hops):
    """A Fail naming why a message to remote.test did not go where its MX records say."""
    journey = _journey(hops)
    _not_by_mx_lookup(host, journey)
    entry = _transport_entry(host, REMOTE)
    if entry:
        raise Fail(_("{table} sends {domain} to {value}, so the message went: {journey}",
                     table=entry[0], domain=REMOTE, value=entry[1], journey=journey),
                   hint=_("A transport map entry forces one host and skips the MX lookup: remove the line "
                          "for {domain} from the transport map, run `postmap` on it, then `postfix reload`.",
                          domain=REMOTE))
    if "Name service error" in delivery.summary() or "Host not found" in delivery.summary():
        raise Fail(_("Postfix could not look up {domain}: {summary}", domain=REMOTE, summary=delivery.summary()),
                   hint=_("Postfix's smtp client runs in a chroot with its own copy of resolv.conf: "
                          "`service postfix restart` refreshes it (see step 1)."))
    deferred = host.postconf("defer_transports")
    if deferred:
        raise Fail(_("the message went: {journey} ({summary})", journey=journey, summary=delivery.summary()),
                   hint=_("defer_transports = {value} keeps the mail of those transports in the queue. Remove it "
                          "(`postconf -X defer_transports`), `postfix reload`, then `postqueue -f`.", value=deferred))
    for name in ("smtp_mx_address_limit", "smtp_mx_session_limit"):
        limit = (host.postconf(name) or "").strip()
        if limit == "1":
            raise Fail(_("the message went: {journey} ({summary})", journey=journey, summary=delivery.summary()),
                       hint=_("{name} = 1 lets Postfix try only the first MX host, never the next: remove it "
                              "(`postconf -X {name}`), then `postfix reload`.", name=name))
    raise Fail(_("the message went: {journey} ({summary})", journey=journey, summary=delivery.summary()),
               hint=_("Read the log lines of its queue id (`grep QUEUEID /var/log/mail.log`): the reason is "
                      "after status=. `postqueue -p` shows what is still waiting."))


def _seconds(value):
    match = _TIME.match((value or "").strip())
    return int(match.group(1)) * _UNIT[match.group(2)] if match else None


# --- resolver --------------------------------------------------------------------------------

@check(step="resolver", title=_("The machine finds the MX hosts of {domain} through the lab DNS", domain=REMOTE),
       hint=_("The machine's resolver is /etc/resolv.conf: it needs the line `nameserver {dns}` "
              "(the lab's DNS server). Try `dig MX {domain}`.", dns=LAB_DNS, domain=REMOTE))
def the_machine_resolves_mx_records_through_the_lab_dns(host):
    server, answer = _ask_like_the_resolver(host, REMOTE, "MX")
    if server is None:
        raise Fail(_("an MX query for {domain} got no answer; /etc/resolv.conf names: {servers}",
                     domain=REMOTE, servers=_nameservers(host)))
    if server != LAB_DNS:
        raise Fail(_("an MX query for {domain} was answered by {server}, not by the lab DNS {dns}",
                     domain=REMOTE, server=server, dns=LAB_DNS))
    _lab_dns_is_asked_first(host)
    records = sorted((int(r.preference), str(r.exchange).rstrip(".").lower()) for r in answer)
    if records != EXPECTED_MX:
        shown = ", ".join(f"{p} {n}" for p, n in records) or _("no MX records")
        raise Fail(_("an MX query for {domain} was answered: {records}", domain=REMOTE, records=shown))
    return _("{dns} answers: MX {records}", dns=LAB_DNS, records=", ".join(f"{p} {n}" for p, n in records))


@check(step="resolver", title=_("Postfix's chroot has the current resolv.conf"),
       hint=_("Postfix's smtp client runs in a chroot (/var/spool/postfix) and reads its own copy of "
              "resolv.conf. `service postfix restart` copies the current one there (a bare `postfix start` "
              "does not)."))
def postfix_chroot_has_the_current_resolv_conf(host):
    inside = host.file(CHROOT_RESOLV)
    original = host.file("/etc/resolv.conf")
    if not inside.is_file:
        raise Fail(_("{path} does not exist", path=CHROOT_RESOLV))
    if inside.content != original.content:
        raise Fail(_("{path} is stale: it says `{inside}`, /etc/resolv.conf says `{original}`",
                     path=CHROOT_RESOLV, inside=_nameserver_lines(inside.text), original=_nameserver_lines(original.text)))
    return _("{path} is the same as /etc/resolv.conf", path=CHROOT_RESOLV)


@check(step="resolver", title=_("Postfix is running"),
       hint=_("Start Postfix with `service postfix start` (which also refreshes the chroot's copies)."))
def postfix_is_running(host):
    return require_running(host)


@check(step="resolver", title=_("Postfix itself finds the MX host of {domain}", domain=REMOTE),
       hint=_("Postfix's own lookup failed although its files look right: its running programs may still "
              "use the old copy. Run `service postfix restart`."))
def postfix_itself_finds_the_mx_host(host):
    """Postfix's own answer for user@remote.test must name mx1: a relay host or a transport entry also
    makes `sendmail -bv` say deliverable, but via a host that no MX lookup chose."""
    verdict = host.sendmail_bv(RECIPIENT, within=10)
    if not verdict.deliverable:
        off = _dns_turned_off(host)
        if off:
            raise Fail(verdict.summary(),
                       hint=_("With {setting} Postfix does not ask DNS and finds no MX records. Remove it (`postconf -X "
                              "{name}`), then `postfix reload`.", setting=off, name=off.split(" =")[0]))
        raise Fail(verdict.summary())
    if not (verdict.outcome.relay or "").lower().startswith(EXPECTED_MX[0][1]):
        _not_by_mx_lookup(host, _("sendmail -bv {rcpt}: deliverable via {relay}", rcpt=RECIPIENT,
                                  relay=verdict.outcome.relay))
        raise Fail(_("sendmail -bv {rcpt}: deliverable via {relay}, not via {best}", rcpt=RECIPIENT,
                     relay=verdict.outcome.relay, best=EXPECTED_MX[0][1]),
                   hint=_("Postfix should pick the best MX host of {domain} itself, mx1.remote.test (preference 10): "
                          "look for settings that name another host (`postconf -n`).", domain=REMOTE))
    return _("sendmail -bv {rcpt}: deliverable via {relay}", rcpt=RECIPIENT, relay=verdict.outcome.relay)


# --- send-remote -----------------------------------------------------------------------------

@check(step="send-remote", title=_("You sent a message to {domain}", domain=REMOTE),
       hint=_("Send a message yourself, e.g. `echo Hello | s-nail -s 'Hello' {rcpt}` or with sendmail, "
              "then read the log: `tail /var/log/mail.log`.", rcpt=RECIPIENT))
def you_sent_a_message_to_remote_test(host):
    lines = host.maillog().lines()
    graders = {line.queue_id for line in lines if line.program.endswith("/cleanup") and line.queue_id
               and line.text.startswith("message-id=<maillab-")}
    mine = [line for line in lines if line.program.endswith("/smtp") and line.queue_id not in graders
            and "@" + REMOTE + ">" in line.text and "status=" in line.text
            and "deliverable (" not in line.text]  # `sendmail -bv` only asks, it sends nothing
    sent = [line for line in mine if "status=sent" in line.text]
    if sent:
        fields = sent[-1].fields
        return _("{queue_id}: to=<{to}>, relay={relay}, status=sent", queue_id=sent[-1].queue_id,
                 to=fields.get("to", "?"), relay=fields.get("relay", "?"))
    if mine:
        raise Fail(_("no message of yours reached {domain}; the log says: {line}", domain=REMOTE, line=mine[-1].text),
                   hint=_("Read the reason after status= in that line. `postqueue -p` shows the queue; "
                          "`postqueue -f` retries now."))
    raise Fail(_("{path} shows no message of yours sent to {domain}", path=host.maillog().path, domain=REMOTE))


@check(step="send-remote", title=_("Mail to {domain} reaches its priority-10 MX host, mx1", domain=REMOTE),
       hint=_("Mail for {domain} should go to its best MX host, mx1.remote.test (preference 10).", domain=REMOTE))
def mail_to_remote_test_reaches_the_priority_10_mx(host):
    """One message to remote.test traced to mx1, and no setting that would reach mx1 by accident
    (relayhost=remote.test looks up the same MX, for every domain)."""
    for node in ("mx1", "mx2"):
        state = host.world.node_state(node)
        if state != "up":
            raise Fail(_("{node} is {state}", node=node, state=state),
                       hint=_("Bring it back for this step: `lab.node(\"{node}\", \"start\")` and "
                              "`lab.node(\"{node}\", \"plug\")` in the notebook.", node=node))
    delivery = host.send_tagged(SENDER, RECIPIENT, subject="MailLab check: mail to remote.test")
    hops = host.world.trace(delivery)
    if not hops or hops[-1].where != "mx1":
        _why_not_by_mx(host, delivery, hops)
    _not_by_mx_lookup(host, _journey(hops))  # mx1 reached, but not by MX lookup: other mail would go astray
    return _journey(hops)


# --- mx-priority -----------------------------------------------------------------------------

@check(step="mx-priority", title=_("Postfix gives up on a silent MX host within {limit} seconds", limit=MAX_CONNECT_TIMEOUT),
       hint=_("A host that does not answer at all makes Postfix wait smtp_connect_timeout (30 s by default) "
              "before it tries the next MX: `postconf -e smtp_connect_timeout=5s`, then `postfix reload`."))
def smtp_gives_up_on_a_silent_host_quickly(host):
    value = host.postconf("smtp_connect_timeout")
    seconds = _seconds(value)
    if seconds is None:
        raise Fail(_("smtp_connect_timeout = {value} is not a time Postfix understands", value=value))
    if seconds == 0 or seconds > MAX_CONNECT_TIMEOUT:
        raise Fail(_("smtp_connect_timeout = {value}", value=value))
    return _("smtp_connect_timeout = {value}", value=value)


@check(step="mx-priority", title=_("Postfix runs with the configuration in main.cf"),
       hint=_("main.cf changed after Postfix last started or reloaded: run `postfix reload`."))
def postfix_runs_with_the_saved_configuration(host):
    return require_live(host)


@check(step="mx-priority", title=_("With mx1 down, mail to {domain} reaches mx2 (priority 20)", domain=REMOTE),
       hint=_("With mx1 stopped, Postfix should try the next MX host, mx2.remote.test."))
def with_mx1_down_mail_reaches_mx2(host):
    world = host.world
    if world.node_state("mx2") != "up":
        raise Fail(_("mx2 is {state}", state=world.node_state("mx2")),
                   hint=_("Bring mx2 back: `lab.node(\"mx2\", \"start\")` and `lab.node(\"mx2\", \"plug\")`."))
    was = world.node_state("mx1")
    if was == "up":
        world.set_node("mx1", "stop")
    try:
        log = host.maillog()
        mark = log.mark()
        delivery = host.send_tagged(SENDER, RECIPIENT, subject="MailLab check: mx1 is down",
                                    within=MAX_CONNECT_TIMEOUT + 5)
        hops = world.trace(delivery)
        tried_mx1 = [line.text for line in log.lines(mark) if "198.51.100.10" in line.text]
    finally:
        if was == "up":
            world.set_node("mx1", "start")
    if not hops or hops[-1].where != "mx2":
        _why_not_by_mx(host, delivery, hops)
    if not tried_mx1:
        raise Fail(_("the message went {journey} without trying mx1 first", journey=_journey(hops)),
                   hint=_("Postfix should try the MX hosts in order of preference: look for a transport "
                          "map or relayhost that names mx2."))
    return _("mx1 was {state}: {attempt}; then {journey}", state=_("stopped") if was == "up" else was,
             attempt=tried_mx1[0], journey=_journey(hops))
