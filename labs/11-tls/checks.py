"""Checks of lab 11, tls. The certificate is judged the way a mail client judges it (its names,
who signed it, its dates, its key); STARTTLS is proved from the outside client and in the log;
Dovecot's TLS is proved from the outside client too, on every port a mail client uses."""
import re

from grader import Fail, _, check
from grader.liveconf import running_or_not
from grader import certs
from grader import dovecot

MACHINE = "192.0.2.10"
HOSTNAME = "mail.example.test"
LAB_CA = "/root/lab-ca/ca.crt"
POSTMASTER = "postmaster@example.test"
ALICE, ALICE_PASSWORD = "alice", "alice123"
DOVECOT_TLS_FILE = "/etc/dovecot/conf.d/99-tls.conf"
SNAKEOIL = "snakeoil"
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


# --- dovecot-tls ------------------------------------------------------------------------------

@check(step="dovecot-tls", title=_("Dovecot uses the certificate signed by the lab CA"),
       hint=_("Give Dovecot the certificate and key you made for Postfix: in {path}, "
              "`ssl_cert = </etc/ssl/certs/mail.example.test.pem` and "
              "`ssl_key = </etc/ssl/private/mail.example.test.key` (mind the `<`), then `doveadm reload`.",
              path=DOVECOT_TLS_FILE))
def dovecot_uses_the_lab_certificate(host):
    """Dovecot's own settings, read with doveconf: the certificate file it loads and its key. The
    outside client's checks below prove that the running Dovecot presents it."""
    ssl = dovecot.setting(host, "ssl")
    if ssl == "no":
        raise Fail(_("ssl = no: Dovecot speaks no TLS at all"),
                   hint=_("Turn TLS on: `ssl = required` in {path}, then `doveadm reload`.", path=DOVECOT_TLS_FILE))
    cert_path = _dovecot_file(host, "ssl_cert")
    key_path = _dovecot_file(host, "ssl_key")
    cert_file = host.file(cert_path)
    if not cert_file.is_file:
        raise Fail(_("ssl_cert = <{path}, but there is no such file", path=cert_path))
    try:
        cert = certs.load_certificate(cert_file.content)
    except certs.NotACertificate:
        raise Fail(_("{path} holds no certificate that can be read", path=cert_path)) from None
    ca = _lab_ca(host)
    if not cert.issued_by(ca):
        if SNAKEOIL in cert_path or cert_path.startswith("/etc/dovecot/private/") or cert.self_signed:
            raise Fail(_("ssl_cert = <{path}: the snakeoil certificate the package made ({names}, self-signed), "
                         "which no mail client trusts", path=cert_path, names=cert.names()))
        raise Fail(_("ssl_cert = <{path} was issued by {issuer}, and the lab CA's signature does not verify",
                     path=cert_path, issuer=cert.issuer))
    if not cert.valid_for(HOSTNAME):
        raise Fail(_("ssl_cert = <{path}: {names}", path=cert_path, names=cert.names()),
                   hint=_("Use the certificate for mail.example.test that you made in the certificate step."))
    key_file = host.file(key_path)
    if not key_file.is_file:
        raise Fail(_("ssl_key = <{path}, but there is no such file", path=key_path))
    try:
        matches = certs.key_matches(cert, key_file.content)
    except certs.NotACertificate:
        raise Fail(_("{path} holds no private key that can be read without a passphrase", path=key_path),
                   hint=_("ssl_key must name the key you made for Postfix, /etc/ssl/private/mail.example.test.key.")) \
            from None
    if not matches:
        raise Fail(_("ssl_key = <{key} is not the key of ssl_cert = <{cert}: Dovecot cannot start TLS with them",
                     key=key_path, cert=cert_path),
                   hint=_("The key must be the one the certificate was made for: "
                          "`ssl_key = </etc/ssl/private/mail.example.test.key` beside "
                          "`ssl_cert = </etc/ssl/certs/mail.example.test.pem`, then `doveadm reload`."))
    return _("ssl = {ssl}, ssl_cert = <{cert} (signed by the lab CA), ssl_key = <{key}", ssl=ssl, cert=cert_path,
             key=key_path)


@check(step="dovecot-tls", title=_("A password in clear text is refused (IMAP on 143, POP3 on 110)"),
       hint=_("Refuse passwords on connections without TLS: `ssl = required` and `disable_plaintext_auth = yes` "
              "in {path}, remove lab 09's /etc/dovecot/conf.d/99-plaintext.conf, then `doveadm reload`.",
              path=DOVECOT_TLS_FILE))
def a_clear_text_login_is_refused(host):
    """alice logs in with her right password without TLS, the way an old mail client would: the
    login must be refused over both protocols (the same password works over TLS, below)."""
    seen = []
    for probe, port in ((host.world.imap, 143), (host.world.pop3, 110)):
        attempt = probe(MACHINE, ALICE, ALICE_PASSWORD, port=port)
        if not attempt.connected or attempt.error:
            raise Fail(attempt.describe(),
                       hint=_("Dovecot must still answer on ports 143 and 110 (with STARTTLS): "
                              "`service dovecot status`, `ss -ltn`, /var/log/dovecot.log."))
        if attempt.logged_in:
            raise Fail(_("{protocol} on port {port} without TLS: alice logged in with her password in clear text "
                         "(ssl = {ssl}, disable_plaintext_auth = {plain})", protocol=attempt.protocol, port=port,
                         ssl=dovecot.setting(host, "ssl"), plain=dovecot.setting(host, "disable_plaintext_auth")),
                       hint=_plaintext_hint(host))
        seen.append(_("{protocol} on port {port}: {answer}", protocol=attempt.protocol, port=port,
                      answer=attempt.login_error))
    return "; ".join(seen)


@check(step="dovecot-tls", title=_("alice reads her mail over IMAP and POP3 with STARTTLS"),
       hint=_("Dovecot offers STARTTLS on ports 143 and 110 once ssl is on and its certificate loads: "
              "/var/log/dovecot.log names the problem."))
def alice_reads_her_mail_with_starttls(host):
    return _reads_over_tls(host, ((host.world.imap, 143, "starttls"), (host.world.pop3, 110, "starttls")))


@check(step="dovecot-tls", title=_("alice reads her mail over IMAPS (993) and POP3S (995)"),
       hint=_("Mail clients also use TLS from the first byte on ports 993 and 995: keep the `imaps` and `pop3s` "
              "listeners of /etc/dovecot/conf.d/10-master.conf (port 993 and 995, `ssl = yes`), then "
              "`doveadm reload`."))
def alice_reads_her_mail_on_993_and_995(host):
    return _reads_over_tls(host, ((host.world.imap, 993, "implicit_tls"), (host.world.pop3, 995, "implicit_tls")))


def _reads_over_tls(host, ways):
    """A tagged message to alice, read in every way given: logged in over TLS, found, and the
    certificate presented on each port chains to the lab CA and names mail.example.test."""
    tag = _deliver_to_alice(host)
    ca = _lab_ca(host)
    seen = []
    for probe, port, how in ways:
        attempt = probe(MACHINE, ALICE, ALICE_PASSWORD, port=port, tag=tag, **{how: True})
        if not attempt.connected or attempt.error or not attempt.tls:
            raise Fail(attempt.describe() if attempt.connected or attempt.error else
                       _("{protocol} on port {port}: no TLS session", protocol=attempt.protocol, port=port))
        try:
            presented = certs.load_certificate(attempt.certificate)
        except certs.NotACertificate:
            raise Fail(_("{protocol} on port {port}: the server sent no certificate", protocol=attempt.protocol,
                         port=port)) from None
        if not presented.issued_by(ca):
            raise Fail(_("{protocol} on port {port} presents {names} (issuer {issuer}), not signed by the lab CA",
                         protocol=attempt.protocol, port=port, names=presented.names(), issuer=presented.issuer),
                       hint=_("The running Dovecot still presents its old certificate: check ssl_cert, then "
                              "`doveadm reload`."))
        if not presented.valid_for(HOSTNAME):
            raise Fail(_("{protocol} on port {port} presents a certificate for {names}, not {name}",
                         protocol=attempt.protocol, port=port, names=presented.names(), name=HOSTNAME))
        if not attempt.logged_in:
            raise Fail(attempt.describe(),
                       hint=_("Over TLS alice's password (alice123) must work: /var/log/dovecot.log says why the "
                              "login failed."))
        if not attempt.found:
            raise Fail(attempt.describe(),
                       hint=_("The message was delivered, but alice's mailbox does not show it over this protocol: "
                              "`doveconf mail_location`."))
        seen.append(_("{protocol} on port {port}: {tls}, certificate {names} signed by the lab CA, alice read the "
                      "tagged message", protocol=attempt.protocol, port=port, tls=attempt.tls,
                      names=presented.names()))
    return "; ".join(seen)


def _deliver_to_alice(host):
    delivery = host.send_tagged("grader@example.test", ALICE, subject="MailLab check: mail for alice over TLS",
                                within=8)
    outcome = delivery.result_for(ALICE)
    if outcome is None or outcome.status != "sent":
        raise Fail(_("a tagged message to alice was not delivered: {summary}", summary=delivery.summary()),
                   hint=_("Delivery to alice must work first (lab 09): `postqueue -p`, /var/log/mail.log."))
    return delivery.tag


def _dovecot_file(host, name):
    """The file a `name = <file` setting of Dovecot loads."""
    value = dovecot.setting(host, name)
    if not value.startswith("<"):
        raise Fail(_("{name} = {value}: Dovecot reads the file only when its path begins with <", name=name,
                     value=value or _("(empty)")),
                   hint=_("Write `{name} = <PATH`: the `<` tells Dovecot to read the file.", name=name))
    return value[1:].strip()


def _plaintext_hint(host):
    if dovecot.setting(host, "disable_plaintext_auth") == "no":
        return _("disable_plaintext_auth = no still allows passwords without TLS (lab 09 wrote it in "
                 "/etc/dovecot/conf.d/99-plaintext.conf): remove that file or write `disable_plaintext_auth = yes`, "
                 "and use `ssl = required`, then `doveadm reload`.")
    trusted = dovecot.setting(host, "login_trusted_networks")
    if trusted:
        return _("login_trusted_networks = {networks}: Dovecot treats these clients as secure and takes their "
                 "passwords without TLS. Remove the setting, then `doveadm reload`.", networks=trusted)
    return _("`doveconf` already refuses clear-text passwords, but the running Dovecot has not read it: "
             "`doveadm reload`.")


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
