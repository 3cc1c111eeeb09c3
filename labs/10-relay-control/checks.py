"""Checks of lab 10, relay-control: from the outside client (203.0.113.10) mail for example.test is
accepted and mail for anyone else refused; from the office (192.0.2.30) relaying is allowed."""
import ipaddress

from grader import Fail, _, check, joined
from grader.inbound import submit
from grader.liveconf import require_live

SERVER = "192.0.2.10"
CLIENT = "203.0.113.10"
OFFICE = "192.0.2.30"
OFFICE_NETWORK = "192.0.2.0/24"
OUTSIDER = "friend@client.example"
ALICE = "alice@example.test"
THIRD = "someone@elsewhere.test"
REMOTE_RCPT = "user@remote.test"
# Networks this server may trust: itself and the office network.
OWN_NETWORKS = [ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128", "::ffff:127.0.0.0/104", OFFICE_NETWORK)]


# --- helpers ---------------------------------------------------------------------------------

def _networks(value):
    """(entry, network) for each address or network in a mynetworks value; names and tables are left out."""
    found = []
    for entry in (value or "").replace(",", " ").split():
        text = entry.replace("[", "").replace("]", "")
        try:
            found.append((entry, ipaddress.ip_network(text, strict=False)))
        except ValueError:
            continue
    return found


def _covering(value, address):
    ip = ipaddress.ip_address(address)
    return [entry for entry, net in _networks(value) if ip.version == net.version and ip in net]


def _rcpt(host, rcpt, from_node="client"):
    talk = host.world.converse(SERVER, from_node=from_node, mail_from=OUTSIDER, rcpts=[rcpt], timeout=5)
    if not talk.connected or talk.error:
        fatal = [line.text for line in host.maillog().lines()[-50:]
                 if line.text.startswith("fatal:") or line.text.startswith("error:")]
        if fatal:
            raise Fail(_("could not talk SMTP to {server}: {error}; the log says: {line}", server=SERVER,
                         error=talk.error or _("no answer"), line=fatal[-1]),
                       hint=_("Postfix's SMTP server refuses to run with these settings: the log line says why. "
                              "Fix it, then `postfix reload`."))
        raise Fail(_("could not talk SMTP to {server}: {error}", server=SERVER, error=talk.error or _("no answer")),
                   hint=_("Postfix must run and listen on every interface: `postfix status`, "
                          "`postconf inet_interfaces`."))
    return talk.rcpt.get(rcpt) or talk.mail


def _why_it_relays(host, rcpt, reply):
    """A Fail naming the setting that lets the outside client relay."""
    mynetworks = host.postconf("mynetworks", expand=True) or ""
    wide = _covering(mynetworks, CLIENT)
    if wide:
        raise Fail(_("RCPT TO:<{rcpt}> from the outside client ({client}): {reply}; mynetworks = {value} "
                     "includes {client} ({entries})", rcpt=rcpt, client=CLIENT, reply=reply, value=mynetworks,
                     entries=", ".join(wide)),
                   hint=_("mynetworks lists the clients this server trusts to relay. {entries} takes in the whole "
                          "Internet (or the outside client's network): list only your own networks, e.g. "
                          "`postconf -e 'mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128'`, then "
                          "`postfix reload`.", entries=", ".join(wide)))
    domain = rcpt.split("@", 1)[1]
    relay_domains = host.postconf("relay_domains", expand=True) or ""
    if domain in relay_domains.replace(",", " ").lower().split():
        raise Fail(_("RCPT TO:<{rcpt}> from the outside client: {reply}; relay_domains = {value}",
                     rcpt=rcpt, reply=reply, value=relay_domains),
                   hint=_("relay_domains lists domains this server relays for from anyone (as a backup MX does). "
                          "{domain} is not yours: remove it, then `postfix reload`.", domain=domain))
    raise Fail(_("RCPT TO:<{rcpt}> from the outside client ({client}): {reply}", rcpt=rcpt, client=CLIENT,
                 reply=reply),
               hint=_("Your server relays for strangers. Look at mynetworks, smtpd_relay_restrictions, "
                      "smtpd_recipient_restrictions and relay_domains (`postconf -n`)."))


def _outside_cannot_relay(host, rcpt):
    reply = _rcpt(host, rcpt)
    if reply is not None and reply.ok:
        _why_it_relays(host, rcpt, reply)
    return _("RCPT TO:<{rcpt}> from the outside client ({client}): {reply}", rcpt=rcpt, client=CLIENT, reply=reply)


# --- not-open-relay --------------------------------------------------------------------------

@check(step="not-open-relay", title=_("Postfix runs with the configuration in main.cf"),
       hint=_("main.cf changed after Postfix last started or reloaded: run `postfix reload`."))
def postfix_runs_with_the_saved_configuration(host):
    return require_live(host)


@check(step="not-open-relay", title=_("The outside client cannot relay to a third domain"),
       hint=_("Your server is an open relay: anyone on the Internet can send mail for other domains through "
              "it (spammers find such servers within hours)."))
def outside_client_cannot_relay(host):
    return _outside_cannot_relay(host, THIRD)


@check(step="not-open-relay", title=_("relay_domains names only your own domains"),
       hint=_("relay_domains lists domains this server relays for from anyone (as a backup MX does). Leave out "
              "every domain that is not yours, then `postfix reload`."))
def relay_domains_names_only_your_domains(host):
    """Proves every domain: each name written in relay_domains is read, not sampled. A table in
    relay_domains (type:name) cannot be listed, so the two foreign domains of this lab are looked up in it."""
    value = host.postconf("relay_domains", expand=True) or ""
    ours = {d.lstrip(".") for d in (host.postconf("mydestination", expand=True) or "").replace(",", " ").lower().split()}
    foreign = []
    for entry in value.replace(",", " ").lower().split():
        if ":" in entry:
            foreign += [d for d in (THIRD.split("@")[1], REMOTE_RCPT.split("@")[1])
                        if host.postmap_query(d, entry) is not None]
            continue
        name = entry.lstrip(".")
        if name not in ours and name != "example.test" and not name.endswith(".example.test"):
            foreign.append(name)
    if foreign:
        raise Fail(_("relay_domains = {value}: {domains} is not yours, so anyone may relay mail to it through "
                     "this server", value=value, domains=", ".join(foreign)),
                   hint=_("relay_domains lists domains this server relays for from anyone (as a backup MX does). "
                          "{domain} is not yours: remove it, then `postfix reload`.", domain=", ".join(foreign)))
    return _("relay_domains = {value}", value=value or _("(empty)"))


def _why_refused(host, reply):
    """A hint naming the setting whose rule refused mail for the server's own domain (None: the
    check's own hint, on mydestination and smtpd_relay_restrictions)."""
    text = str(reply or "")
    recipient_rules = (host.postconf("smtpd_recipient_restrictions", expand=True) or "").replace(",", " ").split()
    if "Client host rejected" in text:
        return _("smtpd_client_restrictions refuses every stranger, so nobody on the Internet can send you "
                 "mail. Close the relay in smtpd_relay_restrictions only (reject_unauth_destination) and "
                 "remove the refusal from smtpd_client_restrictions, then `postfix reload`.")
    if "Sender address rejected" in text:
        return _("smtpd_sender_restrictions refuses the stranger's sender address: remove that refusal, "
                 "close the relay in smtpd_relay_restrictions only, then `postfix reload`.")
    if "Recipient address rejected: Access denied" in text and "reject" in recipient_rules:
        return _("smtpd_recipient_restrictions refuses strangers even for your own domain: leave only "
                 "reject_unauth_destination-style rules there, then `postfix reload`.")
    return None


@check(step="not-open-relay", title=_("The outside client can still send mail to {rcpt}", rcpt=ALICE),
       hint=_("Closing the relay must not close the door: mail for your own domain, example.test, must still "
              "be accepted from anyone. Check mydestination and smtpd_relay_restrictions."))
def outside_client_can_still_mail_alice(host):
    reply = _rcpt(host, ALICE)
    if reply is None or not reply.ok:
        raise Fail(_("RCPT TO:<{rcpt}> from the outside client ({client}): {reply}", rcpt=ALICE, client=CLIENT,
                     reply=reply), hint=_why_refused(host, reply))
    return _("RCPT TO:<{rcpt}> from the outside client ({client}): {reply}", rcpt=ALICE, client=CLIENT, reply=reply)


# --- trusted-relay ---------------------------------------------------------------------------

@check(step="trusted-relay", title=_("Postfix runs with the configuration in main.cf"),
       hint=_("main.cf changed after Postfix last started or reloaded: run `postfix reload`."))
def postfix_runs_with_the_saved_configuration_now(host):
    return require_live(host)


@check(step="trusted-relay", title=_("From the office, mail to {rcpt} goes through and arrives", rcpt=REMOTE_RCPT),
       hint=_("The office network {network} should be trusted: add it to mynetworks, e.g. `postconf -e 'mynetworks "
              "= 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128 {network}'`, then `postfix reload`.",
              network=OFFICE_NETWORK))
def the_office_may_relay(host):
    inbound = submit(host, SERVER, [REMOTE_RCPT], sender="clerk@example.test", from_node="office",
                     subject="MailLab check: relayed for the office")
    talk = inbound.smtp
    if not talk.delivered:
        refused = talk.rcpt.get(REMOTE_RCPT) or talk.data or talk.mail
        said = str(refused) if refused is not None else (talk.error or _("no answer"))
        relay = (host.postconf("smtpd_relay_restrictions", expand=True) or "").replace(",", " ").split()
        if relay and "permit_mynetworks" not in relay:
            raise Fail(_("RCPT TO:<{rcpt}> from the office ({office}): {reply}; smtpd_relay_restrictions = {value}",
                         rcpt=REMOTE_RCPT, office=OFFICE, reply=said, value=" ".join(relay)),
                       hint=_("mynetworks only counts when smtpd_relay_restrictions begins with "
                              "`permit_mynetworks`: put it back."))
        mynetworks = host.postconf("mynetworks", expand=True) or ""
        if "mynetworks" not in host.postconf_lint().settings:
            raise Fail(_("RCPT TO:<{rcpt}> from the office ({office}): {reply}; mynetworks is not set, so "
                         "mynetworks_style decides: {value}", rcpt=REMOTE_RCPT, office=OFFICE, reply=said,
                         value=mynetworks),
                       hint=_("Without a mynetworks line Postfix trusts only this machine (mynetworks_style = "
                              "host). Name the networks yourself: `postconf -e 'mynetworks = 127.0.0.0/8 "
                              "[::ffff:127.0.0.0]/104 [::1]/128 {network}'`, then `postfix reload`.",
                              network=OFFICE_NETWORK))
        raise Fail(_("RCPT TO:<{rcpt}> from the office ({office}): {reply}; mynetworks = {value}",
                     rcpt=REMOTE_RCPT, office=OFFICE, reply=said, value=mynetworks or _("(empty)")))
    if inbound.log is None or not inbound.log.delivered:
        summary = inbound.log.summary() if inbound.log else _("nothing in the log")
        raise Fail(_("the server took the message from the office, but: {summary}", summary=summary),
                   hint=_("Read the reason after status= in the log: `grep QUEUEID /var/log/mail.log`."))
    hops = host.world.trace(inbound.log)
    if not hops or hops[-1].where != "mx1":
        raise Fail(_("the message went: {journey}", journey=joined(" -> ", (h.describe() for h in hops))),
                   hint=_("Mail for remote.test should reach its MX host, mx1.remote.test."))
    return _("from the office ({office}): {journey}", office=OFFICE, journey=joined(" -> ", (h.describe() for h in hops)))


@check(step="trusted-relay", title=_("The outside client still cannot relay"),
       hint=_("Trusting the office must not open the relay to the Internet again."))
def outside_client_still_cannot_relay(host):
    return _outside_cannot_relay(host, REMOTE_RCPT)


@check(step="trusted-relay", title=_("mynetworks takes in the whole office network {network}", network=OFFICE_NETWORK),
       hint=_("The office is a network, not one machine: trust all of {network}, e.g. `postconf -e 'mynetworks "
              "= 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128 {network}'`, then `postfix reload`.",
              network=OFFICE_NETWORK))
def mynetworks_takes_in_the_whole_office_network(host):
    """Proves every office address: the grader sends only from the office machine (192.0.2.30), so
    this reads mynetworks and asks that its entries together cover all of 192.0.2.0/24."""
    value = host.postconf("mynetworks", expand=True) or ""
    office = ipaddress.ip_network(OFFICE_NETWORK)
    parts = [net for _entry, net in _networks(value) if net.version == office.version and net.overlaps(office)]
    if not any(office.subnet_of(net) for net in ipaddress.collapse_addresses(parts)):
        raise Fail(_("mynetworks = {value}: only part of the office network {network} is trusted",
                     value=value, network=OFFICE_NETWORK))
    return _("mynetworks = {value} takes in {network}", value=value, network=OFFICE_NETWORK)


@check(step="trusted-relay", title=_("relay_domains names only your own domains"),
       hint=_("relay_domains lists domains this server relays for from anyone (as a backup MX does). Leave out "
              "every domain that is not yours, then `postfix reload`."))
def relay_domains_still_names_only_your_domains(host):
    """The same proof as in not-open-relay: every domain written in relay_domains is read."""
    return relay_domains_names_only_your_domains(host)


@check(step="trusted-relay", title=_("mynetworks lists only your own networks"),
       hint=_("Trust only what you run: this machine (127.0.0.0/8, [::1]/128) and the office network {network}.",
              network=OFFICE_NETWORK))
def mynetworks_lists_only_your_own_networks(host):
    value = host.postconf("mynetworks", expand=True) or ""
    wider = [entry for entry, net in _networks(value)
             if not any(net.version == own.version and net.subnet_of(own) for own in OWN_NETWORKS)]
    if wider:
        raise Fail(_("mynetworks = {value}: {entries} reaches beyond your own networks", value=value,
                     entries=", ".join(wider)))
    return _("mynetworks = {value}", value=value)
