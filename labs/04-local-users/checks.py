"""Checks of lab 04, local-users. Users are read from the machine's account files; delivery is
proved with tagged messages followed through the log into /var/mail (mbox) and ~/Maildir/new."""
import ctypes
import functools

from grader import Fail, _, check
from grader.liveconf import require_live

DOMAIN = "example.test"
USERS = {"alice": "alice123", "bob": "bob123"}


@functools.lru_cache(maxsize=1)
def _libcrypt():
    # The grader's own crypt(3) (libxcrypt: yescrypt, SHA-512, ...), never a program of the machine:
    # a `python3` replaced inside could say "yes" to any password.
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    return lib


def password_matches(password, hashed):
    """Does /etc/shadow's `hashed` hold `password`? (None: the grader cannot tell, e.g. an unknown method.)"""
    try:
        again = _libcrypt().crypt(password.encode(), hashed.encode())
    except (OSError, UnicodeEncodeError, ValueError):
        return None
    if not again or again.startswith(b"*"):  # libxcrypt's answer for a hash it cannot read
        return None
    return again.decode("ascii", "replace") == hashed


def accounts(host):
    return {name: host.user(name) for name in USERS}


def shadow_hashes(host):
    found = {}
    for line in host.file("/etc/shadow").text.splitlines():
        fields = line.split(":")
        if len(fields) > 1 and fields[0] in USERS:
            found[fields[0]] = fields[1]
    return found


def addresses():
    return [f"{name}@{DOMAIN}" for name in USERS]


def delete_if_queued(host, delivery):
    for queue_id in delivery.queue_ids:
        host.run("postsuper", "-d", queue_id)


# --- add-users -----------------------------------------------------------------------------

@check(step="add-users", title=_("The users alice and bob exist"),
       hint=_("Create them with a home directory and a shell: `useradd -m -s /bin/bash alice` (and bob)."))
def alice_and_bob_exist(host):
    missing = [name for name, user in accounts(host).items() if not user.exists]
    if missing:
        raise Fail(_("no such user: {names}", names=", ".join(missing)))
    return _("alice and bob exist")


@check(step="add-users", title=_("Each has a home directory of their own"),
       hint=_("`useradd` without `-m` makes no home directory. Make it: "
              "`mkdir /home/alice && cp -rT /etc/skel /home/alice && chown -R alice: /home/alice` (same for bob)."))
def each_has_a_home_of_their_own(host):
    seen = []
    for name, user in accounts(host).items():
        home = host.file(user.home or "")
        if not user.home or not home.is_dir:
            raise Fail(_("{name}'s home {home} does not exist", name=name, home=user.home or _("(none)")))
        if home.uid != user.uid:
            raise Fail(_("{home} belongs to uid {owner}, not to {name} (uid {uid})", home=user.home,
                         owner=home.uid, name=name, uid=user.uid),
                       hint=_("Postfix delivers as the user, so the home must be theirs: `chown -R {name}: {home}`.",
                              name=name, home=user.home))
        seen.append(user.home)
    return _("homes: {homes}", homes=", ".join(seen))


@check(step="add-users", title=_("They have the course's passwords"),
       hint=_("Set the passwords: `printf 'alice:alice123\\nbob:bob123\\n' | chpasswd`."))
def they_have_the_course_passwords(host):
    hashes = shadow_hashes(host)
    for name, password in USERS.items():
        hashed = hashes.get(name, "")
        if not hashed or hashed[0] in "!*":
            raise Fail(_("{name} has no password yet (/etc/shadow says {field})", name=name, field=hashed or "''"))
        matches = password_matches(password, hashed)
        if matches is None:
            raise Fail(_("could not check {name}'s password: {said}", name=name,
                         said=_("/etc/shadow holds a hash crypt(3) cannot read")))
        if not matches:
            raise Fail(_("{name}'s password is not {password}", name=name, password=password),
                       hint=_("Later labs log in as {name} with the password {password}: "
                              "`echo {name}:{password} | chpasswd`.", name=name, password=password))
    return _("alice and bob have their passwords")


# --- mbox-delivery -------------------------------------------------------------------------

@check(step="mbox-delivery", title=_("Postfix delivers to mbox files in /var/mail"),
       hint=_("For this step, mail goes to /var/mail/USER: clear home_mailbox and mailbox_command "
              "(`postconf -e home_mailbox= mailbox_command=`), then `postfix reload`."))
def postfix_delivers_to_mbox_files(host):
    for name in ("home_mailbox", "mailbox_command"):
        value = host.postconf(name)
        if value:
            raise Fail(_("{name} = {value}", name=name, value=value))
    return _("home_mailbox and mailbox_command are empty: mail goes to {dir}",
             dir=host.postconf("mail_spool_directory") or "/var/mail")


@check(step="mbox-delivery", title=_("You sent alice and bob a message"),
       hint=_("Send them a message yourself: "
              "`printf 'Subject: Hi\\n\\nHello\\n' | sendmail alice@{domain} bob@{domain}`.", domain=DOMAIN))
def you_sent_alice_and_bob_a_message(host):
    """Both users: a message of the learner's own delivered to each (alice alone is not enough)."""
    lines = host.maillog().lines()
    ids = {line.queue_id: line.text for line in lines
           if line.program == "postfix/cleanup" and line.queue_id and line.text.startswith("message-id=")}
    delivered, failed = {}, {}
    for line in lines:
        if line.program != "postfix/local" or line.queue_id not in ids or "maillab-" in ids[line.queue_id]:
            continue
        user = line.fields.get("to", "").split("@", 1)[0].lower()
        if user in USERS:
            (delivered if "status=sent" in line.text else failed)[user] = line.text
    missing = [name for name in USERS if name not in delivered]
    if missing:
        bounced = [failed[name] for name in missing if name in failed]
        if bounced:
            raise Fail(_("your message was not delivered: {line}", line=bounced[-1]),
                       hint=_("Read the reason in parentheses after status=. \"unknown user\" means the account "
                              "does not exist (step 1)."))
        raise Fail(_("the mail log shows no message of yours delivered to: {names}", names=", ".join(missing)))
    return _("your messages were delivered: {lines}", lines=" | ".join(delivered.values()))


@check(step="mbox-delivery", title=_("A tagged message reaches /var/mail/alice and /var/mail/bob"),
       hint=_("Read the log lines of the message's queue id in /var/log/mail.log: the reason is after status=."))
def a_tagged_message_reaches_their_mbox_files(host):
    """Both users, one message to each, each read from its own mbox file."""
    delivery = host.send_tagged(f"grader@{DOMAIN}", addresses(), subject="MailLab check: mbox delivery", within=5)
    if not delivery.delivered:
        delete_if_queued(host, delivery)
        raise Fail(delivery.summary())
    for name in USERS:
        mailbox = host.mailbox(name)
        if delivery.message_id not in mailbox:
            raise Fail(_("the log says delivered ({summary}), but {path} does not hold the message",
                         summary=delivery.summary(), path=mailbox.path),
                       hint=_("Postfix delivered it somewhere else: is home_mailbox or mailbox_command set in the "
                              "running Postfix? Clear them and `postfix reload`."))
    return _("{summary}; found in /var/mail/alice and /var/mail/bob", summary=delivery.summary())


# --- maildir -------------------------------------------------------------------------------

@check(step="maildir", title=_("home_mailbox is Maildir/"),
       hint=_("Deliver into a Maildir in each home: `postconf -e home_mailbox=Maildir/` (the trailing slash "
              "matters)."))
def home_mailbox_is_maildir(host):
    twice = [w.text for w in host.postconf_lint().overrides if w.parameter == "home_mailbox"]
    if twice:
        raise Fail(_("`postconf -n` warns: {warnings}", warnings="; ".join(twice)),
                   hint=_("main.cf sets home_mailbox twice, and the last line wins: keep one line."))
    value = host.postconf("home_mailbox") or ""
    if value == "Maildir":
        raise Fail(_("home_mailbox = Maildir, without the trailing slash"),
                   hint=_("Without the slash Postfix writes an mbox file called Maildir in the home. "
                          "`postconf -e home_mailbox=Maildir/`, then `postfix reload`."))
    if value.rstrip("/") != "Maildir" or not value.endswith("/"):
        raise Fail(_("home_mailbox = {value}", value=value or _("(empty)")))
    command = host.postconf("mailbox_command")
    if command:
        raise Fail(_("mailbox_command = {value}: it takes over delivery, and home_mailbox is ignored", value=command),
                   hint=_("Clear it: `postconf -e mailbox_command=`, then `postfix reload`."))
    return _("home_mailbox = {value}", value=value)


@check(step="maildir", title=_("The running Postfix has read main.cf since it last changed"),
       hint=_("Postfix reads main.cf when it starts or reloads, not when you save the file: run `postfix reload`."))
def postfix_has_read_main_cf(host):
    return require_live(host)


@check(step="maildir", title=_("A tagged message lands in ~/Maildir/new for alice and bob"),
       hint=_("Read the log lines of the message's queue id in /var/log/mail.log: the reason is after status=."))
def a_tagged_message_lands_in_maildir_new(host):
    """Both users, each found in their own ~/Maildir/new."""
    delivery = host.send_tagged(f"grader@{DOMAIN}", addresses(), subject="MailLab check: Maildir delivery",
                                  within=5)
    if not delivery.delivered:
        delete_if_queued(host, delivery)
        reasons = " ".join(o.reason for r in delivery.recipients for o in delivery.outcomes_for(r))
        if "ermission denied" in reasons:
            raise Fail(delivery.summary(), hint=_("Postfix delivers as the user and could not write in the home "
                                                  "directory: give each home to its user (`chown -R alice: "
                                                  "/home/alice`)."))
        raise Fail(delivery.summary())
    for name in USERS:
        home = host.user(name).home or f"/home/{name}"
        outcome = delivery.result_for(f"{name}@{DOMAIN}")
        if outcome is not None and "delivered to mailbox" in outcome.reason:
            raise Fail(_("{name}: {line}", name=name, line=outcome.describe()),
                       hint=_("Postfix still delivers to mbox: the running Postfix has not read home_mailbox. "
                              "Run `postfix reload` (and check home_mailbox ends with a slash)."))
        maildir = host.maildir(f"{home}/Maildir")
        found = maildir.find(delivery.message_id)
        if found is None or "/new/" not in found.source:
            raise Fail(_("{path} does not hold the message in new/ ({summary})", path=maildir.path,
                         summary=delivery.summary()))
    return _("{summary}; found in /home/alice/Maildir/new and /home/bob/Maildir/new", summary=delivery.summary())


def _from_outside(host, subject):
    """A tagged message from a stranger's address (grader.outside) to alice and bob, taken over SMTP."""
    from grader import outside

    unknown = _("Postfix does not know that user: create alice and bob with `useradd -m` (step 1).")
    return outside.require_taken(host, addresses(), subject=subject, unknown_hint=unknown)


@check(step="mbox-delivery", title=_("Mail from another computer reaches /var/mail/alice and /var/mail/bob"),
       hint=_("An Internet Site takes mail for its users from any computer, not only from sendmail inside: "
              "read what the server answered."))
def mail_from_another_computer_reaches_alice_and_bob(host):
    """Both users (a typo in one would hide behind the other), over SMTP from outside mynetworks."""
    from grader import outside

    if not outside.can_send(host):
        return _("no network to send from (a test machine)")
    sent = _from_outside(host, "MailLab check: mbox delivery from outside")
    return outside.require_in(host, sent, {f"/var/mail/{name}": (lambda n=name: host.mailbox(n)) for name in USERS})


@check(step="maildir", title=_("Mail from another computer lands in alice's and bob's Maildirs"),
       hint=_("An Internet Site takes mail for its users from any computer, not only from sendmail inside: "
              "read what the server answered."))
def mail_from_another_computer_lands_in_their_maildirs(host):
    """Both users, over SMTP from outside mynetworks, into ~/Maildir (read from the host side)."""
    from grader import outside

    if not outside.can_send(host):
        return _("no network to send from (a test machine)")
    sent = _from_outside(host, "MailLab check: Maildir delivery from outside")
    folders = {}
    for name in USERS:
        path = f"{host.user(name).home or '/home/' + name}/Maildir"
        folders[path] = (lambda p=path: host.maildir(p))
    return outside.require_in(host, sent, folders)
