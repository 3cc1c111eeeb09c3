"""Postfix's smtpd_*_restrictions as the grader reads them: each list in order, where a rule stands
that can never refuse a client (after a permit that decides first), and the proof that matters most:
an honest server's mail still arrives. Shared by the labs that teach restrictions (spam defence,
sender authentication)."""
import ipaddress

from .errors import Fail
from .i18n import _
from .inbound import submit

RESTRICTIONS = ("smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions",
                "smtpd_relay_restrictions", "smtpd_recipient_restrictions")


def words(value):
    return (value or "").replace(",", " ").split()


def rules(host):
    """Each smtpd_*_restrictions list as Postfix reads it: name -> its words."""
    return {name: words(host.postconf(name, expand=True)) for name in RESTRICTIONS}


def mynetworks_take_in(host, address):
    client = ipaddress.ip_address(address)
    for entry in words(host.postconf("mynetworks", expand=True)):
        try:
            if client in ipaddress.ip_network(entry.strip("[]"), strict=False):
                return True
        except ValueError:
            continue
    return False


def placement(host, rule, address):
    """Why `rule` cannot refuse a client at `address`: a hint, or None when it stands where it works.
    Postfix reads each list in order and stops at the first rule that decides."""
    lists = rules(host)
    holding = {name: ws for name, ws in lists.items() if any(w == rule or w.startswith(rule + "=") for w in ws)}
    if not holding:
        return _("No smtpd_*_restrictions list holds {rule}: add it (`man 5 postconf` says in which list it "
                 "belongs), then `postfix reload`.", rule=rule)
    for name, ws in holding.items():
        at = next(i for i, w in enumerate(ws) if w == rule or w.startswith(rule + "="))
        for word in ws[:at]:
            if word in ("permit", "permit_auth_destination") or \
                    (word == "permit_mynetworks" and mynetworks_take_in(host, address)):
                return _("In {name} = {value}, {permit} comes before {rule}: Postfix stops at the first rule that "
                         "decides, so {rule} is never read for this client. Move it before {permit}, then "
                         "`postfix reload`.", name=name, value=" ".join(ws), permit=word, rule=rule)
    return None


def refusal(talk):
    """The reply that turned an SMTP conversation away, or None when the mail would have been taken."""
    for reply in (talk.banner, talk.ehlo, talk.mail, *talk.rcpt.values()):
        if reply is not None and not reply.ok and reply.code != 0:
            return reply
    return None


def honest_mail_arrives(host, server, rcpt, *, sender, address, refused_hint, timeout):
    """The honest outside server's tagged message (client.example at `address`, from `sender`) is
    delivered to `rcpt`: the rules refuse no one they should not. `refused_hint` says what to do
    when a rule refuses it."""
    inbound = submit(host, server, [rcpt], sender=sender, subject="MailLab check: from an honest server",
                     timeout=timeout)
    talk = inbound.smtp
    if not talk.delivered:
        reply = refusal(talk) or talk.data
        raise Fail(_("the honest server client.example ({address}) greeted as client.example and sent from {sender}, "
                     "yet: {reply}", address=address, sender=sender,
                     reply=reply if reply is not None else talk.error or _("no answer")), hint=refused_hint)
    if inbound.log is None or not inbound.log.delivered:
        summary = inbound.log.summary() if inbound.log else _("nothing in the log")
        raise Fail(_("the server took the honest message, but: {summary}", summary=summary),
                   hint=_("Read the reason after status= in the log: `grep QUEUEID /var/log/mail.log`."))
    return _("from client.example to {rcpt}: {summary}", rcpt=rcpt, summary=inbound.log.summary())
