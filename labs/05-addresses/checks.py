"""Checks of lab 05, addresses. Each step is proven by mail that really arrives where it should."""
import re

from grader import Fail, _, check, joined
from grader.liveconf import require_live, running_or_not
from grader.tables import freshness, names_path, parse_tables

DOMAIN = "example.test"
ALIASES = "/etc/aliases"
SHOP = "shop.example.test"
SHOP_ADDRESSES = {f"info@{SHOP}": "alice", f"orders@{SHOP}": "bob"}
LIST = f"sales@{DOMAIN}"
LIST_MEMBERS = ("alice", "bob")
OLD_SENDER = f"alice@{DOMAIN}"
OTHER_SENDER = f"bob@{DOMAIN}"  # a sender the step must leave alone
NEW_SENDER = f"alice.liddell@{DOMAIN}"
OUTSIDE = "friend@capture.test"
CAPTURE = "capture"
PEOPLE_UIDS = range(1000, 60000)  # Debian's accounts for people; the rest (root, nobody...) are system accounts


# --- shared probes --------------------------------------------------------------------------

def not_finished_hint(host):
    return running_or_not(
        host, stopped=_("Is Postfix running? `service postfix start`, then check again."),
        running=_("Postfix runs, but the message was not finished in time: `postqueue -p` shows whether it "
                  "waits in the queue, and its lines in /var/log/mail.log say why. After a change to main.cf, "
                  "`postfix reload`."))


def _deliver(host, rcpt, subject):
    """Send a tagged message (null sender: a failure bounces to nobody) and wait until Postfix is done with it."""
    delivery = host.send_tagged("", rcpt, subject=subject)
    if not delivery.complete:
        raise Fail(delivery.summary(), hint=not_finished_hint(host))
    return host.settle(delivery)


def _local_users_reached(host, delivery):
    """{user: outcome} of the local mailboxes a delivery reached, and the outcomes that failed."""
    reached, failed = {}, []
    for rcpt in delivery.recipients:
        for outcome in delivery.outcomes_for(rcpt):
            if outcome.status == "sent" and outcome.relay == "local":
                reached[outcome.to.split("@", 1)[0].lower()] = outcome
            else:
                failed.append(outcome)
    return reached, failed


def _require_in_mailbox(host, user, delivery):
    mailbox = host.mailbox(user)
    if delivery.message_id not in mailbox:
        raise Fail(_("the log says delivered to {user}, but /var/mail/{user} does not hold message <{id}>",
                     user=user, id=delivery.message_id),
                   hint=_("Local mail for {user} should land in /var/mail/{user}: `home_mailbox` and "
                          "`mailbox_command` should be empty in this lab.", user=user))


def _bounce_hint(outcome):
    reason = outcome.reason
    unknown = re.search(r'unknown user: "([^"]+)"', reason)
    if unknown and unknown[1].lower() == (outcome.orig_to or outcome.to).split("@", 1)[0].lower():
        return _("There is no alias and no account called {name}: add a line `{name}: ...` to /etc/aliases, "
                 "then run `newaliases`.", name=unknown[1])
    if unknown:
        return _("The log says {reason}: an alias points at a user that does not exist. Check the "
                 "spelling of the names after the colon in /etc/aliases, then run `newaliases`.", reason=reason)
    return _("Read the log line: the reason is in parentheses after status=.")


def _table_is_built(host, parameter, build_command):
    """Fail when a table named in `parameter` was edited but not rebuilt (`build_command` is
    "postmap" or "newaliases")."""
    tables = parse_tables(host.postconf(parameter, expand=True))
    for table in tables:
        command = build_command if build_command == "newaliases" else f"{build_command} {table.name}"
        fresh = freshness(host, table)
        if fresh.state == "no-source":
            raise Fail(_("{parameter} names {table}, but {path} does not exist",
                         parameter=parameter, table=str(table), path=table.name),
                       hint=_("Create {path} (one line per address), then run `{command}`.",
                              path=table.name, command=command))
        if fresh.state == "not-built":
            raise Fail(_("{path} exists, but {built} does not: the table was never built",
                         path=table.name, built=table.built_path),
                       hint=_("Postfix reads {built}, not the text file: run `{command}`.",
                              built=table.built_path, command=command))
        if fresh.state == "stale":
            raise Fail(_("{path} is newer than {built}: your last edit is not in the table Postfix reads",
                         path=table.name, built=table.built_path),
                       hint=_("Rebuild the table after every edit: `{command}`.", command=command))
    return _("{tables} built and up to date", tables=", ".join(map(str, tables)))


# --- aliases ----------------------------------------------------------------------------------

@check(step="aliases", title=_("Postfix reads /etc/aliases"),
       hint=_("Point Postfix at /etc/aliases: `postconf -e alias_maps=hash:/etc/aliases "
              "alias_database=hash:/etc/aliases`."))
def postfix_reads_etc_aliases(host):
    maps = host.postconf("alias_maps", expand=True)
    if maps is None:
        raise Fail(_("postconf does not answer: is Postfix installed?"))
    if not names_path(maps, ALIASES):
        raise Fail(_("alias_maps = {value}: Postfix does not look up /etc/aliases", value=maps or _("(empty)")))
    database = host.postconf("alias_database", expand=True)
    if not names_path(database, ALIASES):
        raise Fail(_("alias_database = {value}: `newaliases` builds that, not /etc/aliases",
                     value=database or _("(empty)")),
                   hint=_("`newaliases` rebuilds the tables in alias_database: set "
                          "`postconf -e alias_database=hash:/etc/aliases`."))
    return _("alias_maps = {maps}", maps=maps)


@check(step="aliases", title=_("aliases.db is rebuilt from /etc/aliases"),
       hint=_("Run `newaliases` after every edit of /etc/aliases."))
def aliases_db_is_up_to_date(host):
    return _table_is_built(host, "alias_maps", "newaliases")


@check(step="aliases", title=_("Mail for root and postmaster reaches a person"),
       hint=_("Nobody reads root's mailbox. In /etc/aliases keep `postmaster: root` and add `root: alice`, "
              "then run `newaliases`."))
def mail_for_root_and_postmaster_reaches_a_person(host):
    """Both addresses, each with its own message: every person it reaches must be a real account."""
    seen = []
    for rcpt in (f"root@{DOMAIN}", f"postmaster@{DOMAIN}"):
        delivery = _deliver(host, rcpt, "MailLab check: who reads mail for " + rcpt.split("@")[0])
        reached, failed = _local_users_reached(host, delivery)
        if failed:
            raise Fail(delivery.summary(), hint=_bounce_hint(failed[0]))
        for user in reached:
            account = host.user(user)
            if not account:
                raise Fail(_("mail for {rcpt} ends in /var/mail/{user}, and there is no account {user}: "
                             "nobody reads it", rcpt=rcpt, user=user))
            if account.uid not in PEOPLE_UIDS:
                raise Fail(_("mail for {rcpt} ends in /var/mail/{user}, the mailbox of a system account",
                             rcpt=rcpt, user=user))
            _require_in_mailbox(host, user, delivery)
        seen.append(_("{rcpt} -> {users}", rcpt=rcpt, users=", ".join(sorted(reached))))
    return _("{first}; {second}", first=seen[0], second=seen[1])


@check(step="aliases", title=_("A message to sales@ reaches alice and bob"),
       hint=_("Add the list to /etc/aliases: `sales: alice, bob`, then run `newaliases`."))
def sales_list_reaches_alice_and_bob(host):
    """Every member of the list, not one: each must be reached and hold the message."""
    delivery = _deliver(host, LIST, "MailLab check: the sales list")
    reached, failed = _local_users_reached(host, delivery)
    if failed and any(f.to.split("@")[0].lower() == "sales" for f in failed):
        raise Fail(delivery.summary())  # no alias called sales: the authored hint says what to add
    if failed:
        raise Fail(delivery.summary(), hint=_bounce_hint(failed[0]))
    missing = [user for user in LIST_MEMBERS if user not in reached]
    if missing:
        raise Fail(_("a message to {list} reached {reached}, not {missing}", list=LIST,
                     reached=", ".join(sorted(reached)) or _("nobody"), missing=", ".join(missing)),
                   hint=_("Every member goes after the colon, separated by commas: `sales: alice, bob`. "
                          "Then run `newaliases`."))
    for user in LIST_MEMBERS:
        _require_in_mailbox(host, user, delivery)
    return _("{list} -> {users}: in /var/mail/alice and /var/mail/bob", list=LIST, users=", ".join(sorted(reached)))


# --- virtual-domain ---------------------------------------------------------------------------

def _domains_of(host, parameter):
    """The domains a parameter lists, plain or as keys of the tables it names."""
    value = host.postconf(parameter, expand=True) or ""
    tables = parse_tables(value)
    words = {w.strip().lower() for w in value.replace(",", " ").split() if ":" not in w}
    in_tables = [t for t in tables if host.postmap_query(SHOP, str(t)) is not None]
    return value, words, in_tables


@check(step="virtual-domain", title=_("{domain} is a virtual alias domain", domain=SHOP),
       hint=_("List the domain in virtual_alias_domains: `postconf -e virtual_alias_domains={domain}`.",
              domain=SHOP))
def shop_domain_is_a_virtual_alias_domain(host):
    value, words, in_tables = _domains_of(host, "virtual_alias_domains")
    if SHOP not in words and not in_tables:
        raise Fail(_("virtual_alias_domains = {value}", value=value or _("(empty)")))
    return _("virtual_alias_domains = {value}", value=value)


@check(step="virtual-domain", title=_("{domain} is not also a local domain", domain=SHOP),
       hint=_("A domain is either local (mydestination) or a virtual alias domain, never both; Postfix warns "
              "\"do not list domain {domain} in BOTH mydestination and virtual_alias_domains\". Take it out "
              "of mydestination, then `postfix reload`.", domain=SHOP))
def shop_domain_is_not_also_local(host):
    value, words, in_tables = _domains_of(host, "mydestination")
    if SHOP in words or in_tables:
        raise Fail(_("mydestination = {value}", value=value))
    return _("mydestination does not list {domain}", domain=SHOP)


@check(step="virtual-domain", title=_("virtual_alias_maps names the virtual table"),
       hint=_("Tell Postfix where the table is: `postconf -e virtual_alias_maps=hash:/etc/postfix/virtual`."))
def virtual_alias_maps_names_a_table(host):
    value = host.postconf("virtual_alias_maps", expand=True)
    if not parse_tables(value):
        raise Fail(_("virtual_alias_maps = {value}", value=value or _("(empty)")))
    return _("virtual_alias_maps = {value}", value=value)


@check(step="virtual-domain", title=_("The virtual table is built"),
       hint=_("Run `postmap /etc/postfix/virtual` after every edit."))
def virtual_table_is_built(host):
    return _table_is_built(host, "virtual_alias_maps", "postmap")


@check(step="virtual-domain", title=_("Postfix runs with the new main.cf"),
       hint=_("Run `postfix reload` after changing main.cf."))
def main_cf_is_live_for_the_virtual_domain(host):
    return require_live(host)


@check(step="virtual-domain", title=_("Mail for info@ and orders@{domain} reaches alice and bob", domain=SHOP),
       hint=_("In /etc/postfix/virtual: `info@{domain} alice` and `orders@{domain} bob`; then "
              "`postmap /etc/postfix/virtual`.", domain=SHOP))
def shop_addresses_reach_their_people(host):
    """Every address of the table, each to its own person (a swap or a catch-all fails)."""
    seen = []
    for address, user in SHOP_ADDRESSES.items():
        delivery = _deliver(host, address, "MailLab check: " + address)
        reached, failed = _local_users_reached(host, delivery)
        if failed:
            outcome = failed[0]
            if "virtual alias table" in outcome.reason:
                raise Fail(delivery.summary(),
                           hint=_("The virtual table has no entry for {address}: add `{address} {user}` to "
                                  "/etc/postfix/virtual and run `postmap /etc/postfix/virtual`.",
                                  address=address, user=user))
            raise Fail(delivery.summary(), hint=_bounce_hint(outcome))
        if user not in reached:
            raise Fail(_("a message to {address} reached {reached}, not {user}", address=address,
                         reached=", ".join(sorted(reached)) or _("nobody"), user=user))
        _require_in_mailbox(host, user, delivery)
        seen.append(_("{address} -> {user}", address=address, user=user))
    return _("{first}; {second}", first=seen[0], second=seen[1])


# --- canonical --------------------------------------------------------------------------------

@check(step="canonical", title=_("Sender addresses are rewritten"),
       hint=_("Name a sender canonical table: `postconf -e sender_canonical_maps=hash:/etc/postfix/sender_canonical`."))
def sender_rewriting_is_configured(host):
    sender = host.postconf("sender_canonical_maps", expand=True) or ""
    both = host.postconf("canonical_maps", expand=True) or ""
    if parse_tables(sender) or parse_tables(both):
        return _("sender_canonical_maps = {sender}; canonical_maps = {both}", sender=sender or "-", both=both or "-")
    recipient = host.postconf("recipient_canonical_maps", expand=True) or ""
    if parse_tables(recipient):
        raise Fail(_("recipient_canonical_maps = {value}, but sender_canonical_maps is empty", value=recipient),
                   hint=_("recipient_canonical_maps rewrites the addresses mail goes TO. To change the address "
                          "mail comes FROM, use sender_canonical_maps (and clear recipient_canonical_maps)."))
    raise Fail(_("sender_canonical_maps and canonical_maps are both empty"))


@check(step="canonical", title=_("The canonical table is built"),
       hint=_("Run `postmap /etc/postfix/sender_canonical` after every edit."))
def canonical_table_is_built(host):
    found = [_table_is_built(host, p, "postmap") for p in ("sender_canonical_maps", "canonical_maps")
             if parse_tables(host.postconf(p, expand=True))]
    return found[-1]


@check(step="canonical", title=_("Postfix runs with the new main.cf"),
       hint=_("Run `postfix reload` after changing main.cf."))
def main_cf_is_live_for_rewriting(host):
    return require_live(host)


def _lookups(host):
    """What the sender tables say for alice's address, for a hint."""
    said = []
    for parameter in ("sender_canonical_maps", "canonical_maps"):
        for table in parse_tables(host.postconf(parameter, expand=True)):
            said.append(_("`postmap -q {key} {table}` gives {value}", key=OLD_SENDER, table=str(table),
                          value=host.postmap_query(OLD_SENDER, str(table)) or _("nothing")))
    return joined("; ", said)


@check(step="canonical", title=_("Outgoing mail from alice shows {address}", address=NEW_SENDER),
       hint=_("Add `{old} {new}` to /etc/postfix/sender_canonical and run `postmap /etc/postfix/sender_canonical`.",
              old=OLD_SENDER, new=NEW_SENDER))
def outgoing_mail_shows_the_new_sender(host):
    delivery = host.send_tagged(OLD_SENDER, OUTSIDE, subject="MailLab check: who is this from?", within=15)
    found = host.world.find_received(message_id=delivery.message_id)
    if found is None:
        hops = host.world.trace(delivery)
        raise Fail(_("the message did not reach {server}: {story}", server="mx.capture.test",
                     story=joined(" -> ", (h.describe() for h in hops)) or delivery.summary()),
                   hint=_("Outgoing mail must get out first: read the log lines of its queue id "
                          "(`grep QUEUEID /var/log/mail.log`)."))
    message = found[1]
    envelope, header = message.mail_from, message.header("From") or ""
    if envelope.lower() != NEW_SENDER and NEW_SENDER not in header.lower():
        raise Fail(_("{server} received MAIL FROM:<{envelope}> and From: {header}", server="mx.capture.test",
                     envelope=envelope, header=header),
                   hint=_("Nothing was rewritten. {lookups}. The key must be the address as it is, {old}; "
                          "then `postmap` the file.", lookups=_lookups(host), old=OLD_SENDER))
    if envelope.lower() != NEW_SENDER:
        raise Fail(_("{server} received From: {header}, but the envelope sender MAIL FROM:<{envelope}>",
                     server="mx.capture.test", header=header, envelope=envelope),
                   hint=_("Only the header was rewritten: check sender_canonical_classes (it should include "
                          "envelope_sender), then `postfix reload`."))
    if NEW_SENDER not in header.lower():
        raise Fail(_("{server} received MAIL FROM:<{envelope}>, but the header From: {header}",
                     server="mx.capture.test", envelope=envelope, header=header),
                   hint=_("Only the envelope was rewritten: check sender_canonical_classes (it should include "
                          "header_sender), then `postfix reload`."))
    return _("{server} received MAIL FROM:<{envelope}> and From: {header}", server="mx.capture.test",
             envelope=envelope, header=header)


@check(step="canonical", title=_("Outgoing mail from bob still shows {address}", address=OTHER_SENDER),
       hint=_("Only alice's address changes. The key must be her whole address, `{old} {new}`, not a whole "
              "domain (`@{domain}`) or a bare name; then `postmap /etc/postfix/sender_canonical`.",
              old=OLD_SENDER, new=NEW_SENDER, domain=DOMAIN))
def outgoing_mail_from_bob_keeps_his_sender(host):
    """The step promises one rewritten sender, not all: a key that catches the whole domain passes
    every check of alice, so a second person's mail is proven unchanged (envelope and From: header)."""
    delivery = host.send_tagged(OTHER_SENDER, OUTSIDE, subject="MailLab check: bob writes", within=15)
    found = host.world.find_received(message_id=delivery.message_id)
    if found is None:
        raise Fail(_("the message did not reach {server}: {story}", server="mx.capture.test",
                     story=joined(" -> ", (h.describe() for h in host.world.trace(delivery))) or delivery.summary()),
                   hint=_("Outgoing mail must get out first: read the log lines of its queue id "
                          "(`grep QUEUEID /var/log/mail.log`)."))
    message = found[1]
    envelope, header = message.mail_from, message.header("From") or ""
    if envelope.lower() != OTHER_SENDER or OTHER_SENDER not in header.lower():
        raise Fail(_("bob's message reached {server} as MAIL FROM:<{envelope}> and From: {header}",
                     server="mx.capture.test", envelope=envelope, header=header))
    return _("{server} received MAIL FROM:<{envelope}> and From: {header}", server="mx.capture.test",
             envelope=envelope, header=header)


@check(step="canonical", title=_("Replies to {address} reach alice", address=NEW_SENDER),
       hint=_("People will answer to the new address: add `alice.liddell: alice` to /etc/aliases and run `newaliases`."))
def replies_to_the_new_address_reach_alice(host):
    delivery = _deliver(host, NEW_SENDER, "MailLab check: a reply to alice")
    reached, failed = _local_users_reached(host, delivery)
    if failed:
        raise Fail(delivery.summary())
    if "alice" not in reached:
        raise Fail(_("a message to {address} reached {reached}, not alice", address=NEW_SENDER,
                     reached=", ".join(sorted(reached)) or _("nobody")))
    _require_in_mailbox(host, "alice", delivery)
    return _("{address} -> alice: in /var/mail/alice", address=NEW_SENDER)


# --- mail from outside (the lab network's outside client, grader.outside) --------------------

@check(step="aliases", title=_("Mail from another computer for sales@, root and postmaster is taken"),
       hint=_("An Internet Site takes mail for its aliases from any computer, not only from sendmail inside: "
              "read what the server answered."))
def sales_mail_from_another_computer_reaches_alice_and_bob(host):
    """From the outside client over SMTP: every alias of the step is taken (root, postmaster and the
    list), and the list's message reaches both members' mailboxes (read from the host side)."""
    from grader import outside

    if not outside.can_send(host):
        return _("no network to send from (a test machine)")
    unknown = _("Postfix knows no such address: add the alias to /etc/aliases, then run `newaliases`.")
    sent = outside.require_taken(host, [f"root@{DOMAIN}", f"postmaster@{DOMAIN}", LIST], unknown_hint=unknown,
                                 subject="MailLab check: aliases from outside")
    return outside.require_in(host, sent, {f"/var/mail/{user}": (lambda u=user: host.mailbox(u))
                                           for user in LIST_MEMBERS})


@check(step="virtual-domain", title=_("Mail from another computer for info@ and orders@{domain} is delivered",
                                      domain=SHOP),
       hint=_("An Internet Site takes mail for its virtual domain from any computer, not only from sendmail "
              "inside: read what the server answered."))
def shop_mail_from_another_computer_reaches_its_people(host):
    """From the outside client over SMTP: both addresses of the virtual domain, each to its person."""
    from grader import outside

    if not outside.can_send(host):
        return _("no network to send from (a test machine)")
    domain = _("Postfix does not take mail for {domain} from strangers: list it in `virtual_alias_domains`, "
               "then `postfix reload`.", domain=SHOP)
    unknown = _("The virtual table has no entry for that address: add it to /etc/postfix/virtual and run "
                "`postmap /etc/postfix/virtual`.")
    sent = outside.require_taken(host, list(SHOP_ADDRESSES), domain_hint=domain, unknown_hint=unknown,
                                 subject="MailLab check: virtual domain from outside")
    return outside.require_in(host, sent, {f"/var/mail/{user}": (lambda u=user: host.mailbox(u))
                                           for user in SHOP_ADDRESSES.values()})
