"""Checks of lab 11, tls. The certificate is judged the way a mail client judges it (its names,
who signed it, its dates, its key); STARTTLS is proved from the outside client and in the log."""
import re

from grader import Fail, _, check
from grader.liveconf import running_or_not
from grader import certs

MACHINE = "192.0.2.10"
HOSTNAME = "mail.example.test"
LAB_CA = "/root/lab-ca/ca.crt"
POSTMASTER = "postmaster@example.test"
CHAIN_FILES_HINT = _("Postfix reads only smtpd_tls_chain_files when it is set, and ignores smtpd_tls_cert_file and "
                     "smtpd_tls_key_file: remove it (`postconf -X smtpd_tls_chain_files`, then `postfix reload`), "
                     "or list your key and certificate in it.")


# --- certificate ------------------------------------------------------------------------------

@check(step="certificate", title=_("Postfix has a certificate and a key"),
       hint=_("Make a key and a certificate, then tell Postfix where they are: "
              "`postconf -e smtpd_tls_cert_file=/etc/ssl/certs/mail.example.test.pem "
              "smtpd_tls_key_file=/etc/ssl/private/mail.example.test.key`."))
def postfix_has_a_certificate_and_key(host):
    cert_path, key_path = _paths(host)
    for setting, path in (("smtpd_tls_cert_file", cert_path), ("smtpd_tls_key_file", key_path)):
        if not path:
            raise Fail(_("{setting} is empty", setting=setting))
        if not host.file(path).is_file:
            raise Fail(_("{setting} = {path}, but there is no such file", setting=setting, path=path))
    chain = _chain_files(host)
    if chain and set(chain) != {cert_path, key_path}:
        raise Fail(_("smtpd_tls_chain_files = {files} overrides smtpd_tls_cert_file and smtpd_tls_key_file",
                     files=" ".join(chain)), hint=CHAIN_FILES_HINT)
    _certificate(host, cert_path)
    return _("smtpd_tls_cert_file = {cert}, smtpd_tls_key_file = {key}", cert=cert_path, key=key_path)


@check(step="certificate", title=_("Only root can read the private key"),
       hint=_("Anyone who reads the key can pretend to be your server: `chown root:root KEY` and "
              "`chmod 600 KEY`."))
def only_root_can_read_the_key(host):
    _cert_path, key_path = _paths(host)
    key = host.file(key_path)
    if key.uid != 0 or key.mode & 0o077:
        raise Fail(_("{path} has mode {mode:04o} and owner uid {uid}", path=key_path, mode=key.mode, uid=key.uid))
    return _("{path} has mode {mode:04o}, owner root", path=key_path, mode=key.mode)


@check(step="certificate", title=_("The key belongs to the certificate"),
       hint=_("The certificate was made for another key. Make the certificate again from this key "
              "(`openssl req -new -key KEY ...`), or point smtpd_tls_key_file at the key you used."))
def the_key_belongs_to_the_certificate(host):
    cert_path, key_path = _paths(host)
    cert = _certificate(host, cert_path)
    try:
        matches = certs.key_matches(cert, host.file(key_path).content)
    except certs.NotACertificate:
        raise Fail(_("{path} holds no private key that can be read without a passphrase", path=key_path),
                   hint=_("Postfix needs a key without a passphrase: make it with `openssl genrsa -out KEY 2048`.")) \
            from None
    if not matches:
        chain = certs.load_chain(host.file(cert_path).content)
        if any(certs.key_matches(later, host.file(key_path).content) for later in chain[1:]):
            raise Fail(_("{cert} starts with the certificate of {subject}; the one that belongs to {key} comes later",
                         cert=cert_path, subject=chain[0].subject, key=key_path),
                       hint=_("Postfix presents the first certificate in the file as its own: the server's "
                              "certificate must come first, the lab CA's (if you add it) after it."))
        raise Fail(_("the public key in {cert} is not the one of {key}", cert=cert_path, key=key_path))
    return _("{key} is the key of {cert}", key=key_path, cert=cert_path)


@check(step="certificate", title=_("The certificate names {name}", name=HOSTNAME),
       hint=_("Clients check the name they connected to against the certificate's subjectAltName: make the "
              "certificate with `subjectAltName = DNS:mail.example.test` (and CN=mail.example.test)."))
def the_certificate_names_the_server(host):
    cert_path, _key = _paths(host)
    cert = _certificate(host, cert_path)
    if not cert.valid_for(HOSTNAME):
        if cert.common_name.lower() == HOSTNAME:
            raise Fail(_("{path}: {names}; the name is only in the CN, which clients no longer read",
                         path=cert_path, names=cert.names()),
                       hint=_("Add the name as a subjectAltName when signing: an extension file with "
                              "`subjectAltName = DNS:mail.example.test`, passed with `-extfile`."))
        raise Fail(_("{path}: {names}", path=cert_path, names=cert.names()))
    if cert.expired():
        raise Fail(_("{path} is valid from {start} to {end}: not now", path=cert_path, start=cert.not_before,
                     end=cert.not_after),
                   hint=_("Sign a certificate that is valid today (`-days 365`)."))
    return _("{path}: {names}, valid until {end}", path=cert_path, names=cert.names(), end=cert.not_after.date())


@check(step="certificate", title=_("The lab CA signed the certificate"),
       hint=_("The outside client trusts the lab's certificate authority, not a self-signed certificate: "
              "make a request (`openssl req -new`) and sign it with /root/lab-ca/ca.key "
              "(`openssl x509 -req -CA /root/lab-ca/ca.crt -CAkey /root/lab-ca/ca.key ...`)."))
def the_lab_ca_signed_the_certificate(host):
    cert_path, _key = _paths(host)
    cert = _certificate(host, cert_path)
    ca = _lab_ca(host)
    if not cert.issued_by(ca):
        if cert.self_signed:
            raise Fail(_("{path} is self-signed (issuer {issuer})", path=cert_path, issuer=cert.issuer))
        raise Fail(_("{path} was issued by {issuer}, and the lab CA's signature does not verify",
                     path=cert_path, issuer=cert.issuer))
    return _("{path} is signed by {issuer}", path=cert_path, issuer=cert.issuer)


# --- starttls ---------------------------------------------------------------------------------

@check(step="starttls", title=_("Postfix offers STARTTLS to the outside client"),
       hint=_("Postfix offers STARTTLS only when asked to: `postconf -e smtpd_tls_security_level=may`, "
              "then `postfix reload`."))
def postfix_offers_starttls(host):
    talk = host.world.converse(MACHINE, timeout=5)
    if not talk.connected or talk.ehlo is None:
        what = talk.error or talk.describe()
        refusal = _smtpd_refusal(host)
        if refusal:
            raise Fail(_("the outside client's SMTP session failed: {what}; the log says: {line}", what=what,
                         line=refusal),
                       hint=_("Postfix's SMTP server stops at once with these settings: the log line names the "
                              "setting. Correct it in main.cf (`smtpd_tls_security_level = may`), then "
                              "`postfix reload`."))
        raise Fail(_("the outside client's SMTP session failed: {what}", what=what),
                   hint=running_or_not(
                       host, stopped=_("Postfix must be running and listening on port 25: `service postfix start`."),
                       running=_("Postfix runs, but the outside client got no SMTP session on port 25: check "
                                 "`inet_interfaces` and the `smtp inet` line of /etc/postfix/master.cf, then "
                                 "`service postfix restart`.")))
    if not talk.starttls_offered:
        level = host.postconf("smtpd_tls_security_level") or ""
        if level in ("may", "encrypt"):
            raise Fail(_("main.cf says smtpd_tls_security_level = {level}, but EHLO does not offer STARTTLS",
                         level=level),
                       hint=_("The setting is not live yet: `postfix reload`. If it still is missing, read "
                              "/var/log/mail.log for TLS warnings."))
        raise Fail(_("EHLO offers: {extensions}; smtpd_tls_security_level = {level}",
                     extensions=", ".join(talk.extensions) or _("(nothing)"), level=level or _("(empty)")))
    return _("EHLO from client.example offers STARTTLS")


@check(step="starttls", title=_("The outside client negotiates TLS and trusts the certificate"),
       hint=_("Read what the client saw above, and /var/log/mail.log for Postfix's TLS warnings."))
def the_client_negotiates_tls_and_trusts_the_certificate(host):
    talk = host.world.converse(MACHINE, starttls=True, timeout=5)
    if talk.tls is None:
        raise Fail(_("STARTTLS did not work: {error}", error=talk.error or _("no TLS session")),
                   hint=_("Postfix could not start TLS: `grep -i tls /var/log/mail.log | tail` names the problem "
                          "(a missing file, a key that does not match)."))
    presented = certs.load_certificate(talk.tls.certificate)
    ca = _lab_ca(host)
    cert_path, _key = _paths(host)
    on_disk = host.file(cert_path)
    if on_disk.is_file:
        try:
            if certs.load_certificate(on_disk.content).fingerprint != presented.fingerprint:
                if chain := _chain_files(host):
                    raise Fail(_("Postfix presents {names}, from smtpd_tls_chain_files = {files}, not the "
                                 "certificate in {path}", names=presented.names(), files=" ".join(chain),
                                 path=cert_path), hint=CHAIN_FILES_HINT)
                raise Fail(_("Postfix presents a certificate ({names}) that is not the one in {path}",
                             names=presented.names(), path=cert_path),
                           hint=_("Postfix still uses the certificate it read before: `postfix reload`."))
        except certs.NotACertificate:
            pass
    if not presented.valid_for(HOSTNAME):
        raise Fail(_("the server's certificate is for {names}, not {name}", names=presented.names(), name=HOSTNAME),
                   hint=_("Finish the certificate step first: the certificate must name mail.example.test."))
    if not presented.issued_by(ca):
        raise Fail(_("the server's certificate (issuer {issuer}) is not signed by the lab CA", issuer=presented.issuer),
                   hint=_("Finish the certificate step first: the lab CA must sign the certificate."))
    return _("{protocol} with {cipher}; certificate {names}, signed by the lab CA",
             protocol=talk.tls.protocol, cipher=talk.tls.cipher, names=presented.names())


@check(step="starttls", title=_("Servers that do not speak TLS can still send mail"),
       hint=_("A public MX must take mail without TLS too (RFC 3207), or older servers cannot reach you: "
              "`postconf -e smtpd_tls_security_level=may`, then `postfix reload`."))
def a_client_without_tls_can_still_send_mail(host):
    """The envelope only (MAIL FROM, RCPT TO postmaster) without STARTTLS; no message is sent."""
    talk = host.world.converse(MACHINE, mail_from="friend@client.example", rcpts=[POSTMASTER], timeout=5)
    reply = talk.rcpt.get(POSTMASTER) or talk.mail
    if reply is None or reply.code != 250:
        level = host.postconf("smtpd_tls_security_level") or ""
        raise Fail(_("without STARTTLS the server answered {reply} (smtpd_tls_security_level = {level})",
                     reply=str(reply) if reply else (talk.error or _("nothing")), level=level or _("(empty)")))
    return _("without STARTTLS, RCPT TO:<{rcpt}> is answered {reply}", rcpt=POSTMASTER, reply=str(reply))


@check(step="starttls", title=_("The log shows the TLS session"), within=3,
       hint=_("Postfix logs TLS sessions from smtpd_tls_loglevel = 1: `postconf -e smtpd_tls_loglevel=1`, "
              "then `postfix reload`."))
def the_log_shows_the_tls_session(host):
    log = host.maillog()
    mark = log.mark()
    talk = host.world.converse(MACHINE, starttls=True, timeout=5)
    if talk.tls is None:
        raise Fail(_("STARTTLS did not work this time: {error}", error=talk.error or _("no TLS session")))
    lines = host.wait_for(lambda: [line for line in log.lines(mark) if line.program.endswith("/smtpd")
                                   and "TLS connection established from" in line.text], within=2)
    if lines:
        return _("{path}: {line}", path=log.path, line=lines[-1].text)
    level = host.postconf("smtpd_tls_loglevel") or "0"
    raise Fail(_("{path} has no \"TLS connection established\" line for the client's session "
                 "(smtpd_tls_loglevel = {level})", path=log.path, level=level))


# --- helpers ------------------------------------------------------------------------------------

def _paths(host):
    cert_path = host.postconf("smtpd_tls_cert_file", expand=True) or ""
    key_path = host.postconf("smtpd_tls_key_file", expand=True) or ""
    return cert_path, key_path or cert_path  # an empty key file means: the key is in the certificate file


def _chain_files(host):
    """smtpd_tls_chain_files, when set, replaces smtpd_tls_cert_file and smtpd_tls_key_file."""
    return [f for f in re.split(r"[\s,]+", host.postconf("smtpd_tls_chain_files", expand=True) or "") if f]


def _smtpd_refusal(host):
    """The last fatal or error line of the mail log (its last 50 lines), or None."""
    lines = [line.text for line in host.maillog().lines()[-50:]
             if line.text.startswith("fatal:") or line.text.startswith("error:")]
    return lines[-1] if lines else None


def _certificate(host, path):
    if not path:
        raise Fail(_("smtpd_tls_cert_file is empty"))
    try:
        return certs.load_certificate(host.file(path).content)
    except certs.NotACertificate:
        raise Fail(_("{path} holds no certificate that can be read", path=path),
                   hint=_("smtpd_tls_cert_file must name a PEM certificate (`openssl x509 -in FILE -noout -text` "
                          "reads it).")) from None


def _lab_ca(host):
    try:
        return certs.load_certificate(host.file(LAB_CA).content)
    except certs.NotACertificate:
        raise Fail(_("the lab CA's certificate {path} is missing or unreadable", path=LAB_CA),
                   hint=_("Reset the lab to get the lab CA back (Reset this step).")) from None
