"""Each Host probe, over the fake backend with answers copied from Debian 12 / Postfix 3.7."""
from __future__ import annotations

import re

import pytest

from grader import Fail, Host
from grader.testing import FakeBackend, FakeClock
from grader.probes import MissingCommand



@pytest.fixture
def fake():
    return FakeBackend()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def host(fake, clock):
    return Host(fake, clock=clock, sleep=clock.sleep)


def test_every_command_is_time_bounded(fake, host):
    fake.on("true")
    host.run("true")
    host.run("true", timeout=2.5)
    assert [c[2] for c in fake.calls] == [10.0, 2.5]
    assert fake.calls[0][0] == ["true"]  # an argv, no shell


def test_package_installed(fake, host):
    fake.on("dpkg-query", stdout="install ok installed\t3.7.11-0+deb12u1\n")
    pkg = host.package("postfix")
    assert pkg.installed and pkg.version == "3.7.11-0+deb12u1" and pkg.status == "install ok installed"
    assert fake.calls[0][0][-2:] == ["--", "postfix"]


def test_package_unknown_or_removed(fake, host):
    fake.on("dpkg-query", returncode=1, stderr="dpkg-query: no packages found matching postfix\n")
    pkg = host.package("postfix")
    assert not pkg.installed and pkg.status == "dpkg-query: no packages found matching postfix"
    fake.on("dpkg-query", stdout="deinstall ok config-files\t3.7.11-0+deb12u1\n")
    assert host.package("postfix").status == "deinstall ok config-files"
    assert not host.package("postfix")


def test_user(fake, host):
    fake.on("getent", "passwd", "--", "alice", stdout="alice:x:1001:1001:Alice,,,:/home/alice:/bin/bash\n")
    fake.on("getent", "passwd", "--", "bob", returncode=2)
    alice = host.user("alice")
    assert (alice.exists, alice.uid, alice.home, alice.shell) == (True, 1001, "/home/alice", "/bin/bash")
    assert not host.user("bob").exists and host.user("bob").uid is None


def test_file(fake, host):
    fake.add_file("/etc/postfix/main.cf", "myhostname = mail\nmydestination = $myhostname\n", mtime=200)
    fake.add_file("/etc/aliases", "sales: alice\n", mtime=300)
    fake.add_file("/etc/aliases.db", b"\0db", mtime=100)
    main = host.file("/etc/postfix/main.cf")
    assert main.exists and main.is_file and not main.is_dir
    assert main.size == 46 and main.mtime == 200 and main.mode == 0o644
    assert "mydestination = $myhostname" in main.text
    assert re.search(r"^myhostname\s*=\s*mail$", main.text, re.M)
    assert "relayhost" not in main.text
    assert host.file("/etc/aliases").newer_than(host.file("/etc/aliases.db"))
    missing = host.file("/etc/postfix/virtual")
    assert not missing.exists and missing.text == "" and missing.describe() == "/etc/postfix/virtual does not exist"
    assert host.file("/etc/postfix").is_dir and host.file("/etc/postfix").text == ""


def test_file_content_is_bounded(fake, clock):
    fake.add_file("/var/log/big", b"x" * 100)
    small = Host(fake, read_limit=10, clock=clock, sleep=clock.sleep)
    big = small.file("/var/log/big")
    assert big.content == b"x" * 10 and big.truncated


def test_processes(fake, host):
    fake.on("ps", stdout="""\
    PID USER     COMMAND         COMMAND
      1 root     tini            /usr/bin/tini -- sleep infinity
     80 root     master          /usr/lib/postfix/sbin/master -w
     81 postfix  qmgr            qmgr -l -t unix -u
""")
    procs = host.processes()
    assert [p.comm for p in procs] == ["tini", "master", "qmgr"]
    assert host.processes(comm="qmgr")[0].user == "postfix"
    assert host.processes(comm="master")[0].args == "/usr/lib/postfix/sbin/master -w"


def test_listening(fake, host):
    fake.on("ss", "-ltnpH", stdout="""\
LISTEN 0      100          0.0.0.0:25        0.0.0.0:*    users:(("master",pid=80,fd=13))
LISTEN 0      100             [::]:25           [::]:*    users:(("master",pid=80,fd=14))
LISTEN 0      100        127.0.0.1:10025     0.0.0.0:*
""")
    fake.on("ss", "-lunpH", stdout="UNCONN 0      0      127.0.0.53%lo:53      0.0.0.0:*\n")
    on25 = host.listening(25)
    assert [(s.address, s.programs) for s in on25] == [("0.0.0.0", ("master",)), ("::", ("master",))]
    assert on25[0].describe() == "tcp 0.0.0.0:25 (master)"
    assert host.listening(587) == []
    assert host.listening(53, proto="udp")[0].address == "127.0.0.53%lo"
    with pytest.raises(ValueError):
        host.listening(25, proto="sctp")


def test_postconf(fake, host):
    fake.on("postconf", "-h", "myhostname", stdout="mail\n")
    fake.on("postconf", "-xh", "myorigin", stdout="mail.example.test\n")
    fake.on("postconf", "-h", "bogus", stderr="postconf: warning: bogus: unknown parameter\n")
    assert host.postconf("myhostname") == "mail"
    assert host.postconf("myorigin", expand=True) == "mail.example.test"
    assert host.postconf("bogus") is None
    with pytest.raises(ValueError):
        host.postconf("x; rm -rf /")


def test_postconf_service(fake, host):
    fake.on("postconf", "-Ph", "submission/inet/smtpd_tls_auth_only", stdout="yes\n")
    fake.on("postconf", "-Ph", "submission/inet/smtpd_sasl_path",
            stderr='postconf: warning: unmatched request: "submission/inet/smtpd_sasl_path"\n')
    fake.on("postconf", "-Fh", "submission/inet/chroot", stdout="y\n")
    assert host.postconf_service("submission/inet", "smtpd_tls_auth_only") == "yes"
    assert host.postconf_service("submission/inet", "smtpd_sasl_path") is None
    assert host.postconf_service("submission/inet", "chroot") == "y"
    for service, name in (("submission", "chroot"), ("submission/inet; rm -rf /", "chroot"),
                          ("submission/inet", "x; rm -rf /")):
        with pytest.raises(ValueError):
            host.postconf_service(service, name)


def test_postconf_without_postfix_is_none(host):
    assert host.postconf("myhostname") is None


def test_postconf_fatal_is_a_fail_with_what_postconf_said(fake, host):
    fake.on("postconf", returncode=1,
            stderr="postconf: fatal: open /etc/postfix/main.cf: No such file or directory\n")
    with pytest.raises(Fail, match="open /etc/postfix/main.cf: No such file"):
        host.postconf("myhostname")


def test_postconf_lint(fake, host):
    fake.on("postconf", "-n", stdout="myhostname = mail2\nmydestinaton = localhost\n", stderr="""\
postconf: warning: /etc/postfix/main.cf, line 52: overriding earlier entry: myhostname=mail2
postconf: warning: /etc/postfix/main.cf: unused parameter: mydestinaton=localhost
""")
    lint = host.postconf_lint()
    assert not lint.clean
    assert [w.parameter for w in lint.overrides] == ["myhostname"]
    assert [w.parameter for w in lint.unused] == ["mydestinaton"]
    assert lint.settings == {"myhostname": "mail2", "mydestinaton": "localhost"}
    assert "line 52: overriding earlier entry" in lint.describe()
    fake.on("postconf", "-n", stdout="myhostname = mail\n")
    assert host.postconf_lint().clean


def test_postmap_query(fake, host):
    fake.on("postmap", "-q", "sales@example.test", stdout="alice@example.test,bob@example.test\n")
    fake.on("postmap", "-q", "nobody@example.test", returncode=1)
    table = "hash:/etc/postfix/virtual"
    assert host.postmap_query("sales@example.test", table) == "alice@example.test,bob@example.test"
    assert host.postmap_query("nobody@example.test", table) is None
    fake.on("postmap", "-q", "x", returncode=1,
            stderr="postmap: fatal: open database /etc/postfix/virtual.db: No such file or directory\n")
    with pytest.raises(Fail, match="virtual.db: No such file"):
        host.postmap_query("x", table)
    fake.on("postalias", "-q", "sales", stdout="alice, bob\n")
    assert host.postalias_query("sales") == "alice, bob"
    assert fake.calls[-1][0] == ["postalias", "-q", "sales", "hash:/etc/aliases"]


def test_queue(fake, host):
    fake.on("postqueue", "-j", stdout="")
    assert host.queue() == []
    fake.on("postqueue", "-j", stdout=(
        '{"queue_name": "deferred", "queue_id": "4A2B3C4D5E", "arrival_time": 1764481201, '
        '"message_size": 412, "forced_expire": false, "sender": "root@mail.example.test", '
        '"recipients": [{"address": "bob@example.test", "delay_reason": "connect to '
        'mx1.example.test[192.0.2.25]:25: Connection refused"}]}\n'
        '{"queue_name": "hold", "queue_id": "5B3C4D5E6F", "arrival_time": 1764481202, '
        '"message_size": 300, "forced_expire": false, "sender": "", '
        '"recipients": [{"address": "carol@example.test"}]}\n'))
    queued = host.queue()
    assert [(m.queue_id, m.queue_name) for m in queued] == [("4A2B3C4D5E", "deferred"), ("5B3C4D5E6F", "hold")]
    assert queued[0].recipients[0].delay_reason.endswith("Connection refused")
    assert queued[1].recipients[0].delay_reason is None
    assert queued[0].describe().startswith("4A2B3C4D5E in deferred from <root@mail.example.test> to bob@")


def test_queue_when_postfix_is_down(fake, host):
    fake.on("postqueue", returncode=69,
            stderr="postqueue: fatal: Queue report unavailable - mail system is down\n")
    with pytest.raises(Fail, match="mail system is down"):
        host.queue()


def test_missing_commands_say_what_to_install(host):
    with pytest.raises(MissingCommand) as caught:
        host.queue()
    assert caught.value.detail == "postqueue: command not found (is Postfix installed?)"
    with pytest.raises(MissingCommand, match=r"ss: command not found \(is iproute2 installed\?\)"):
        host.listening(25)


def test_maillog_path_comes_from_maillog_file(fake, host):
    assert host.maillog().path == "/var/log/mail.log"  # no Postfix: the Debian default
    fake.on("postconf", "-xh", "maillog_file", stdout="/var/log/postfix.log\n")
    assert host.maillog().path == "/var/log/postfix.log"
    fake.on("postconf", "-xh", "maillog_file", stdout="\n")
    assert host.maillog().path == "/var/log/mail.log"


def test_mailbox_and_maildir(fake, host):
    fake.add_file("/var/mail/alice", b"From root@mail  Mon Nov 30 05:40:01 2026\nMessage-Id: <m1@x>\n\nhi\n\n")
    assert host.mailbox("alice").find("m1@x") is not None
    assert host.mailbox("alice").path == "/var/mail/alice"
    with pytest.raises(ValueError):
        host.mailbox("../etc/shadow")
    fake.add_file("/home/bob/Maildir/new/1.mail", b"Message-Id: <m2@x>\n\nhi\n")
    fake.add_dir("/home/bob/Maildir/cur")
    assert host.maildir("/home/bob/Maildir").find("<m2@x>").message_id == "m2@x"


LOG = "/var/log/mail.log"


def test_sendmail_bv_reads_the_answer_from_the_log(fake, host, clock):
    fake.add_file(LOG, "Nov 30 05:39:00 mail postfix/master[80]: daemon started -- version 3.7.11\n")

    def verify(argv, input):
        fake.append(LOG, "Nov 30 05:41:00 mail postfix/local[150]: 4D5E6F7A8B: to=<nobody@mail.example.test>, "
                         "orig_to=<nobody>, relay=local, delay=0, delays=0/0/0/0, dsn=5.1.1, "
                         'status=undeliverable (unknown user: "nobody")\n')
        return 0, "", ""

    fake.on("/usr/sbin/sendmail", handler=verify)
    answer = host.sendmail_bv("nobody")
    assert fake.calls[-1][0] == ["/usr/sbin/sendmail", "-f", "", "-bv", "nobody"]
    assert answer.status == "undeliverable" and not answer.deliverable
    assert answer.reason == 'unknown user: "nobody"'
    assert answer.summary().startswith("sendmail -bv nobody: to=<nobody@mail.example.test>")


def test_sendmail_bv_with_postfix_stopped_waits_then_says_so(fake, host, clock):
    fake.add_file(LOG, "")
    fake.on("/usr/sbin/sendmail")  # postdrop queues it in maildrop; nothing is logged
    answer = host.sendmail_bv("alice", within=2)
    assert answer.outcome is None and answer.status is None
    assert 2 <= clock.now < 2.2
    assert "wrote no status to /var/log/mail.log within 2 s" in answer.summary()
    assert "service postfix start" in answer.summary()


def test_send_tagged_follows_the_message_until_it_is_delivered(fake, host, clock):
    fake.add_file(LOG, "Nov 30 05:39:00 mail postfix/master[80]: daemon started -- version 3.7.11\n")
    sent = {}

    def sendmail(argv, input):
        text = input.decode()
        sent["argv"], sent["text"] = argv, text
        sent["mid"] = re.search(r"^Message-Id: <([^>]+)>$", text, re.M)[1]
        fake.append(LOG, f"Nov 30 05:40:01 mail postfix/pickup[120]: 4A2B3C4D5E: uid=0 from=<root>\n"
                         f"Nov 30 05:40:01 mail postfix/cleanup[123]: 4A2B3C4D5E: message-id=<{sent['mid']}>\n")
        return 0, "", ""

    def deliver_later():
        if clock.now >= 0.2 and "done" not in sent:
            sent["done"] = True
            fake.append(LOG, "Nov 30 05:40:01 mail postfix/local[130]: 4A2B3C4D5E: to=<alice@mail.example.test>, "
                             "orig_to=<alice>, relay=local, delay=0.2, delays=0.01/0.01/0/0.18, dsn=2.0.0, "
                             "status=sent (delivered to mailbox)\n")

    clock.on_sleep.append(deliver_later)
    fake.on("/usr/sbin/sendmail", handler=sendmail)
    delivery = host.send_tagged("root", ["alice"], subject="lab 3 check")
    assert sent["argv"] == ["/usr/sbin/sendmail", "-i", "-f", "root", "alice"]
    assert re.fullmatch(r"maillab-[0-9a-f]{32}@grader\.maillab\.test", sent["mid"])
    assert f"X-MailLab-Tag: {delivery.tag}\n" in sent["text"]
    assert "Subject: lab 3 check\n" in sent["text"]
    assert delivery.message_id == sent["mid"]
    assert delivery.delivered and delivery.queue_id == "4A2B3C4D5E"
    assert delivery.status("alice") == "sent" and delivery.relay("alice") == "local"
    assert 0.2 <= delivery.waited < 0.5  # polled in short steps, stopped once final
    assert len(delivery.lines) == 3
    assert "daemon started" not in "".join(delivery.lines)  # only what came after the mark


def test_send_tagged_stops_at_its_bound_while_deferred(fake, host, clock):
    fake.add_file(LOG, "")

    def sendmail(argv, input):
        mid = re.search(rb"Message-Id: <([^>]+)>", input)[1].decode()
        fake.append(LOG, f"Nov 30 05:40:01 mail postfix/cleanup[123]: 4A2B3C4D5E: message-id=<{mid}>\n"
                         "Nov 30 05:40:06 mail postfix/smtp[131]: 4A2B3C4D5E: to=<bob@example.test>, relay=none, "
                         "delay=5, delays=0/0/5/0, dsn=4.4.1, status=deferred (connect to "
                         "mx1.example.test[192.0.2.25]:25: Connection timed out)\n")
        return 0, "", ""

    fake.on("/usr/sbin/sendmail", handler=sendmail)
    delivery = host.send_tagged("root@mail.example.test", "bob@example.test", within=3)
    assert not delivery.complete and delivery.status("bob@example.test") == "deferred"
    assert 3 <= clock.now < 3.2
    assert "status=deferred" in delivery.summary()


def test_send_tagged_when_sendmail_refuses(fake, host):
    fake.on("/usr/sbin/sendmail", returncode=75,
            stderr="sendmail: fatal: root(0): No recipient addresses found in message header\n")
    with pytest.raises(Fail, match="exit status 75.*No recipient addresses"):
        host.send_tagged("root", ["alice"])


def test_send_tagged_rejects_addresses_that_look_like_options(host):
    with pytest.raises(ValueError):
        host.send_tagged("root", ["-bv"])
    with pytest.raises(ValueError):
        host.send_tagged("root\nBcc: x", ["alice"])


def test_send_tagged_without_postfix(host):
    with pytest.raises(MissingCommand, match=r"/usr/sbin/sendmail: command not found \(is Postfix installed\?\)"):
        host.send_tagged("root", ["alice"])


# -- waiting, other machines, the outside client ----------------------------------------------

def test_wait_for_returns_the_first_good_answer_without_real_time(fake, clock, host):
    answers = iter([None, None, "there"])
    assert host.wait_for(lambda: next(answers), within=5) == "there"
    assert 0 < clock.now < 5


def test_wait_for_gives_the_last_answer_when_time_runs_out(fake, clock, host):
    assert host.wait_for(lambda: 3, within=2, until=lambda n: n > 3) == 3
    assert clock.now == pytest.approx(2)


def test_wait_for_never_waits_past_the_step(fake, clock, host):
    with host.bounded_until(1.0):
        host.wait_for(lambda: False, within=30)
    assert clock.now == pytest.approx(1.0)


def test_another_machine_shares_the_step_time_limit(fake, clock):
    class World:
        def machine(self, name):
            return Host(FakeBackend(), name=name)

    host = Host(fake, clock=clock, sleep=clock.sleep, world=World())
    with host.bounded_until(1.0):
        other = host.machine("mail2")
        assert other.name == "mail2"
        other.wait_for(lambda: False, within=30)
    assert clock.now == pytest.approx(1.0)
    assert host.outside is host.world


def test_a_lab_without_a_network_says_so(host):
    with pytest.raises(Fail, match="only one machine"):
        host.machine("mail2")
    with pytest.raises(Fail, match="no outside client"):
        host.outside
