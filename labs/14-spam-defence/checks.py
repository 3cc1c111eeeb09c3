"""Checks of lab 14, spam defence. Everything is proved from two outside clients, the way mail servers
on the Internet see the server: an honest one (client.example, 203.0.113.10) and a spam bot that the
lab's block list names (bot.spam.example, 203.0.113.66). The rule that matters most is the last of
each step: the honest server's mail, and alice's from her laptop, still get through."""
from grader import Fail, _, check, restrictions
from grader.liveconf import require_live, running_or_not

SERVER = "192.0.2.10"
CLIENT_ADDRESS = "203.0.113.10"
BOT = "bot"
BOT_ADDRESS = "203.0.113.66"
BOT_HELO = "bot.spam.example"
BOT_SENDER = "offers@bot.spam.example"
ZONE = "dnsbl.example.net"
HONEST_SENDER = "friend@client.example"
ALICE = "alice@example.test"
ALICE_LOGIN = ("alice", "alice123")
LAPTOP = "alices-laptop"
REMOTE_RCPT = "user@remote.test"
# postscreen keeps a new client waiting 6 s (its pregreet test) before Postfix's SMTP server greets.
WAIT = 10
RELOAD = _("main.cf or master.cf changed after Postfix last started or reloaded: run `postfix reload`.")


# --- helpers ---------------------------------------------------------------------------------

def _placement(host, rule, address=CLIENT_ADDRESS):
    return restrictions.placement(host, rule, address)


def _session(host, port=25, from_node="client", **options):
    """An SMTP conversation from an outside client; a Fail that says why when there is none."""
    talk = host.world.converse(SERVER, port, from_node=from_node, timeout=WAIT, **options)
    if talk.connected and talk.banner is not None and (talk.banner.code == 220 or from_node == BOT):
        return talk
    raise Fail(_("the outside client could not talk SMTP to {server} port {port}: {what}", server=SERVER, port=port,
                 what=talk.error or _("no answer")),
               hint=running_or_not(
                   host, stopped=_("Postfix must be running: `service postfix start`."),
                   running=_("Postfix runs but does not answer on this port: `postconf -M` lists what it serves, and "
                             "`tail /var/log/mail.log` says what went wrong.")))


def _refused_by(host, rule, talk, what):
    """Fail unless `talk` was refused with a reply holding `words`; the hint says why the rule missed."""
    reply = restrictions.refusal(talk)
    if reply is None:
        raise Fail(_("{what}: {reply}", what=what, reply=talk.rcpt.get(ALICE) or talk.mail),
                   hint=_placement(host, rule))
    return reply


def _sender_refused(host, sender, rule, reason):
    """MAIL FROM:<sender> from the outside client is refused by `rule`, whose reply says `reason`."""
    talk = _session(host, mail_from=sender, rcpts=[ALICE])
    reply = _refused_by(host, rule, talk, _("MAIL FROM:<{sender}>", sender=sender))
    if reason not in reply.text:
        raise Fail(_("MAIL FROM:<{sender}> was refused, but not for its domain: {reply}", sender=sender, reply=reply),
                   hint=_placement(host, rule))
    return _("MAIL FROM:<{sender}>: {reply}", sender=sender, reply=reply)


def _honest_mail_arrives(host):
    return restrictions.honest_mail_arrives(
        host, SERVER, ALICE, sender=HONEST_SENDER, address=CLIENT_ADDRESS, timeout=WAIT,
        refused_hint=_("A rule refuses honest mail: the reply names it. Spam rules must never stop a server that "
                       "greets with its own name and sends from a real domain: remove or loosen that rule, "
                       "then `postfix reload`."))


def _alice_sends_from_her_laptop(host):
    on_587 = [s for s in host.master_services() if s.type == "inet" and s.port in ("submission", "587")]
    if any(s.command == "postscreen" for s in on_587):
        raise Fail(_("master.cf serves port 587 with postscreen: {lines}", lines="; ".join(s.line for s in on_587)),
                   hint=_("postscreen belongs on port 25 only: mail clients log in instead, and may not pass its "
                          "tests. Give port 587 back to smtpd with its `-o` lines from lab 13 (`submission inet n - y "
                          "- - smtpd`), then `postfix reload`."))
    talk = _session(host, 587, ehlo=LAPTOP, starttls=True, auth=ALICE_LOGIN, mail_from=ALICE, rcpts=[REMOTE_RCPT])
    if not talk.authenticated:
        raise Fail(_("alice could not log in on port 587: {what}", what=talk.auth or talk.error or _("no answer")),
                   hint=_("Port 587 worked at the end of lab 13: `postconf -M submission/inet` and "
                          "`tail /var/log/mail.log` show what changed."))
    reply = talk.rcpt.get(REMOTE_RCPT) or talk.mail
    if reply is None or not reply.ok:
        raise Fail(_("alice, logged in on port 587 from her laptop (EHLO {helo}), RCPT TO:<{rcpt}>: {reply}",
                     helo=LAPTOP, rcpt=REMOTE_RCPT, reply=reply if reply is not None else talk.error),
                   hint=_("Your own users greet with whatever name their laptop has: let them through before the HELO "
                          "and sender rules (permit_mynetworks, permit_sasl_authenticated first in those lists), "
                          "then `postfix reload`."))
    return _("alice on port 587, EHLO {helo}: RCPT TO:<{rcpt}> {reply}", helo=LAPTOP, rcpt=REMOTE_RCPT, reply=reply)


def _log_lines(host, mark, *words):
    return [line for line in host.maillog().lines(mark) if all(w in line.text for w in words)]


def _port_25_services(host):
    return [s for s in host.master_services() if s.type == "inet" and s.port in ("smtp", "25")]


# --- helo-sender -----------------------------------------------------------------------------

@check(step="helo-sender", title=_("Postfix runs with the configuration in main.cf"), hint=RELOAD)
def postfix_runs_with_the_saved_configuration(host):
    return require_live(host)


@check(step="helo-sender", title=_("A client that does not greet is refused"),
       hint=_("Every real mail server says HELO or EHLO first; many bots do not: `postconf -e "
              "smtpd_helo_required=yes`, then `postfix reload`."))
def a_client_must_say_helo(host):
    talk = _session(host, ehlo=None, mail_from=HONEST_SENDER, rcpts=[ALICE])
    if talk.mail is not None and talk.mail.ok:
        raise Fail(_("MAIL FROM before any HELO or EHLO: {reply} (smtpd_helo_required = {value})", reply=talk.mail,
                     value=host.postconf("smtpd_helo_required") or _("(empty)")))
    return _("MAIL FROM before any HELO or EHLO: {reply}", reply=talk.mail if talk.mail is not None else talk.error)


@check(step="helo-sender", title=_("A HELO name that is not a host name is refused"),
       hint=_("A HELO name must at least look like a host name: add reject_invalid_helo_hostname to "
              "smtpd_helo_restrictions, then `postfix reload`."))
def a_bad_helo_name_is_refused(host):
    talk = _session(host, ehlo="bad_helo!", mail_from=HONEST_SENDER, rcpts=[ALICE])
    reply = _refused_by(host, "reject_invalid_helo_hostname", talk, _("EHLO bad_helo!, then RCPT TO:<{rcpt}>",
                                                                      rcpt=ALICE))
    if "helo" not in reply.text.lower():
        raise Fail(_("EHLO bad_helo! was refused, but not for its name: {reply}", reply=reply),
                   hint=_placement(host, "reject_invalid_helo_hostname"))
    return _("EHLO bad_helo!: {reply}", reply=reply)


@check(step="helo-sender", title=_("A sender without a full domain is refused"),
       hint=_("A sender address must end in a full domain (user@example.com): add reject_non_fqdn_sender to "
              "smtpd_sender_restrictions, then `postfix reload`."))
def a_sender_without_a_full_domain_is_refused(host):
    return _sender_refused(host, "friend@client", "reject_non_fqdn_sender", "fully-qualified")


@check(step="helo-sender", title=_("A sender whose domain does not exist is refused"),
       hint=_("Bounces to a domain that does not exist can never be delivered: add reject_unknown_sender_domain to "
              "smtpd_sender_restrictions, then `postfix reload`."))
def a_sender_domain_that_does_not_exist_is_refused(host):
    return _sender_refused(host, "friend@nowhere.example", "reject_unknown_sender_domain", "Domain not found")


@check(step="helo-sender", title=_("An honest server's mail for alice still arrives"),
       hint=_("A rule refuses honest mail: the reply names it."))
def honest_mail_still_arrives(host):
    return _honest_mail_arrives(host)


@check(step="helo-sender", title=_("alice still sends from her laptop on port 587"),
       hint=_("Your own users greet with whatever name their laptop has: let them through first."))
def alice_still_sends_from_her_laptop(host):
    return _alice_sends_from_her_laptop(host)


# --- dnsbl -----------------------------------------------------------------------------------

@check(step="dnsbl", title=_("Postfix runs with the configuration in main.cf"), hint=RELOAD)
def postfix_runs_with_the_saved_configuration_now(host):
    return require_live(host)


@check(step="dnsbl", title=_("The spam bot that {zone} lists is refused", zone=ZONE),
       hint=_("Ask the lab's block list about every client: add `reject_rbl_client {zone}` to "
              "smtpd_recipient_restrictions after reject_unauth_destination, then `postfix reload`.", zone=ZONE))
def the_listed_bot_is_refused(host):
    talk = _session(host, from_node=BOT, ehlo=BOT_HELO, mail_from=BOT_SENDER, rcpts=[ALICE])
    reply = restrictions.refusal(talk)
    if reply is not None and ZONE in reply.text:
        return _("the bot {address}: {reply}", address=BOT_ADDRESS, reply=reply)
    zones = [w.partition("=")[0] for words in restrictions.rules(host).values() for i, w in enumerate(words)
             if i and words[i - 1] == "reject_rbl_client"]
    said = reply if reply is not None else (talk.rcpt.get(ALICE) or talk.mail or talk.error)
    if zones and ZONE not in zones:
        raise Fail(_("the bot {address}: {reply}; reject_rbl_client asks {zones}", address=BOT_ADDRESS, reply=said,
                     zones=", ".join(zones)),
                   hint=_("The lab has no Internet: its block list is {zone}, served by the lab's DNS server. "
                          "`dig +short 66.113.0.203.{zone}` shows the bot is listed there. Name that zone in "
                          "reject_rbl_client, then `postfix reload`.", zone=ZONE))
    raise Fail(_("the bot {address}: {reply}", address=BOT_ADDRESS, reply=said),
               hint=_placement(host, "reject_rbl_client", BOT_ADDRESS))


@check(step="dnsbl", title=_("An honest server's mail for alice still arrives"),
       hint=_("A rule refuses honest mail: the reply names it."))
def honest_mail_still_arrives_past_the_block_list(host):
    return _honest_mail_arrives(host)


# --- postscreen ------------------------------------------------------------------------------

@check(step="postscreen", title=_("Postfix runs with the configuration in main.cf and master.cf"), hint=RELOAD)
def postfix_runs_with_the_saved_configuration_again(host):
    return require_live(host)


@check(step="postscreen", title=_("postscreen answers every connection to port 25"),
       hint=_("In /etc/postfix/master.cf, let postscreen take port 25 and hand clients to smtpd: the `smtp inet ... "
              "postscreen` line, `smtpd pass ... smtpd`, `dnsblog unix` and `tlsproxy unix` (Debian's master.cf has "
              "them commented out), then `postfix reload`."))
def postscreen_answers_port_25(host):
    services = _port_25_services(host)
    if not any(s.command == "postscreen" for s in services):
        raise Fail(_("master.cf serves port 25 with: {lines}", lines="; ".join(s.line for s in services)
                     or _("nothing")))
    others = [s for s in services if s.command != "postscreen"]
    if others:
        raise Fail(_("beside postscreen, master.cf still has {lines}", lines="; ".join(s.line for s in others)),
                   hint=_("A client that reaches smtpd on port 25 directly skips every postscreen test: remove that "
                          "line (postscreen hands the clients it trusts to the `smtpd pass` service), then "
                          "`postfix reload`."))
    if not any(s.type == "pass" and s.name == "smtpd" for s in host.master_services()):
        raise Fail(_("master.cf has postscreen on port 25 but no `smtpd pass` service to hand clients to"),
                   hint=_("Add the line `smtpd pass - - y - - smtpd` to master.cf, then `postfix reload`."))
    mark = host.maillog().mark()
    _session(host)
    lines = host.wait_for(lambda: _log_lines(host, mark, "CONNECT from [" + CLIENT_ADDRESS + "]"), within=3)
    if not lines or not lines[-1].program.endswith("postscreen"):
        raise Fail(_("port 25 answered the outside client, but postscreen logged no CONNECT from it"), hint=RELOAD)
    return _("{program}: {line}", program=lines[-1].program, line=lines[-1].text)


@check(step="postscreen", title=_("postscreen itself turns the listed bot away"),
       hint=_("Tell postscreen about the block list and let it act: `postconf -e 'postscreen_dnsbl_sites = "
              "{zone}*2' postscreen_dnsbl_threshold=2 postscreen_dnsbl_action=enforce`, then `postfix reload`.",
              zone=ZONE))
def postscreen_turns_the_bot_away(host):
    mark = host.maillog().mark()
    talk = _session(host, from_node=BOT, ehlo=BOT_HELO, mail_from=BOT_SENDER, rcpts=[ALICE])
    reply = restrictions.refusal(talk)
    if reply is None:
        raise Fail(_("the bot {address}: {reply}", address=BOT_ADDRESS, reply=talk.rcpt.get(ALICE) or talk.mail
                     or talk.error))
    lines = host.wait_for(lambda: _log_lines(host, mark, "[" + BOT_ADDRESS + "]"), within=3,
                          until=lambda found: any("DISCONNECT" in l.text or "reject" in l.text for l in found))
    # enforce: postscreen's own "NOQUEUE: reject: RCPT ..."; drop: 521 at once, after its "DNSBL rank" line.
    by_postscreen = [l for l in lines if l.program.endswith("postscreen") and
                     ("reject" in l.text or (reply.code == 521 and "DNSBL rank" in l.text))]
    if not by_postscreen:
        smtpd = [l for l in lines if l.program.endswith("smtpd") and "reject" in l.text]
        said = smtpd[-1].text if smtpd else str(reply)
        raise Fail(_("the bot was refused, but by smtpd, not postscreen: {line} (postscreen_dnsbl_sites = {sites}, "
                     "postscreen_dnsbl_action = {action})", line=said,
                     sites=host.postconf("postscreen_dnsbl_sites") or _("(empty)"),
                     action=host.postconf("postscreen_dnsbl_action") or _("(empty)")))
    return _("the bot {address}: {reply}; postscreen: {line}", address=BOT_ADDRESS, reply=reply,
             line=by_postscreen[-1].text)


@check(step="postscreen", title=_("An honest server's mail for alice still arrives through postscreen"),
       hint=_("A rule refuses honest mail: the reply names it."))
def honest_mail_still_arrives_through_postscreen(host):
    return _honest_mail_arrives(host)


@check(step="postscreen", title=_("alice still sends from her laptop on port 587"),
       hint=_("postscreen belongs on port 25 only: port 587 keeps its own `submission inet ... smtpd` line."))
def alice_still_sends_on_587(host):
    return _alice_sends_from_her_laptop(host)
