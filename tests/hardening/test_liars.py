"""Root inside replaces the programs the grader used to ask (postconf, ps, ss, postfix, postqueue,
doveconf, doveadm, postalias, postmap, dig, python3, pgrep, stat, date) with liars that print what a
solved machine prints: a step in a wrong state must still FAIL, and a solved machine must still
PASS. The genuine answers come from Postfix's and Dovecot's own programs from the image, from the
kernel's tables and the machine's files read by the host, and from the grader's own connections."""
import pytest

from grader.result import Status
from classroom.session import LabSession, open_session
from grader import course

pytestmark = pytest.mark.machine
LEARNER = "pytest-liar"


def _liar(session, path, output, code=0):
    """Replace `path` in the machine with a script that prints `output` and exits with `code`."""
    script = f"#!/bin/sh\ncat <<'EOF'\n{output}\nEOF\nexit {code}\n"
    done = session.machine().exec(["/bin/sh", "-c", f"[ -e {path}.real ] || cp -a {path} {path}.real; "
                                                     f"cat > {path} && chmod 755 {path}"], input=script.encode())
    assert done.returncode == 0, done


@pytest.fixture
def session_of():
    opened = []

    def open_one(lab_id, drawn=None):
        session = open_session(lab_id, LEARNER, record=False) if drawn is None else \
            LabSession(course.find(lab_id), LEARNER, record=False, drawn=drawn)
        opened.append(session)
        return session
    yield open_one
    for session in opened:
        for machine in session.machines():
            machine.destroy()
        network = session.network()
        if network is not None:
            network.destroy()


def _solved_output(session, step, argv):
    """What the genuine program prints in the solved state of `step` (the liar's script)."""
    session.reset(step)
    session.solve(step, only=True)
    return session.machine().exec(argv).out.rstrip("\n")


def test_a_lying_postconf_does_not_pass_the_destinations_step(session_of):
    session = session_of("basic-config")
    said = _solved_output(session, "destinations", ["postconf", "-n"])
    session.reset("destinations")
    for path in ("/usr/sbin/postconf",):
        _liar(session, path, said)
    assert "example.test" in session.machine().exec(["postconf", "-n"]).out  # the liar is in place
    result = session.check("destinations")
    assert result.status is Status.FAIL, result
    # ... and the genuine solution passes, whatever a liar says.
    session.machine().exec(["sh", "-c", "mv /usr/sbin/postconf.real /usr/sbin/postconf"])
    session.solve("destinations", only=True)
    _liar(session, "/usr/sbin/postconf", "mydestination = nothing.test")
    assert session.check("destinations").status is Status.PASS


def test_lying_ps_ss_and_postfix_do_not_pass_the_start_step(session_of):
    session = session_of("install-postfix")
    ps = _solved_output(session, "start", ["ps", "-eo", "pid,user:32,comm,args"])
    ss = _solved_output(session, "start", ["ss", "-ltnpH"])
    session.reset("start")  # Postfix installed, not running
    _liar(session, "/usr/bin/ps", ps)
    _liar(session, "/usr/bin/ss", ss)
    _liar(session, "/usr/sbin/postfix", "postfix/postfix-script: the Postfix mail system is running: PID: 77")
    _liar(session, "/usr/bin/pgrep", "77")
    result = session.check("start")
    assert result.status is Status.FAIL, result
    assert result.first_problem.name == "postfix_is_running", result.first_problem
    # ... and the genuine start passes, whatever the liars say.
    session.machine().exec(["sh", "-c", "mv /usr/sbin/postfix.real /usr/sbin/postfix"])
    session.solve("start", only=True)
    _liar(session, "/usr/sbin/postfix", "postfix/postfix-script: fatal: the Postfix mail system is not running", 1)
    _liar(session, "/usr/bin/ps", "")
    _liar(session, "/usr/bin/ss", "")
    result = session.check("start")
    assert result.status is Status.PASS, result
    assert "greeted: 220 " in str(result.items[1].detail), result.items[1]


def test_a_lying_postconf_does_not_hide_a_missing_maillog_file(session_of):
    """maillog_file decides where the grader reads the log: a liar must not steer it."""
    session = session_of("install-postfix")
    session.reset("start")
    session.solve("start", only=True)
    session.machine().exec(["sh", "-c", "postconf -e maillog_file=/var/log/elsewhere.log"])
    _liar(session, "/usr/sbin/postconf", "/var/log/mail.log")
    host = session.host()
    assert host.postconf("maillog_file") == "/var/log/elsewhere.log"


def test_a_lying_postqueue_neither_hides_nor_invents_a_message(session_of):
    """The queue is read from Postfix's own files: an empty `postqueue -j` hides no deferred message."""
    session = session_of("test-delivery")
    session.reset(session.lab.steps[0].id)
    machine = session.machine()
    machine.exec(["sh", "-c", "postsuper -d ALL >/dev/null 2>&1; printf 'Subject: a\\n\\nx\\n' | "
                              "sendmail -f alice@example.test bob@nowhere.test; sleep 1.5"])
    _liar(session, "/usr/sbin/postqueue", "")
    queued = session.host().queue()
    assert [r.address for q in queued for r in q.recipients] == ["bob@nowhere.test"], queued
    assert queued[0].queue_name == "deferred" and "nowhere.test" in (queued[0].recipients[0].delay_reason or "")


def test_a_lying_doveconf_does_not_steer_the_grader(session_of):
    """Dovecot's settings come from Dovecot's own doveconf, on copies of the machine's configuration."""
    from grader import dovecot

    session = session_of("dovecot")
    last = session.lab.steps[-1].id
    session.reset(last)
    session.solve(last, only=True)
    _liar(session, "/usr/bin/doveconf", "maildir:/var/forged")
    host = session.host()
    assert dovecot.setting(host, "mail_location") == "maildir:~/Maildir"
    assert dovecot.config_state(host).ok
    # A configuration Dovecot cannot read is seen as such, whatever the liar says.
    session.machine().exec(["sh", "-c", "echo 'this is not a setting' >> /etc/dovecot/conf.d/99-log.conf"])
    assert not dovecot.config_state(host).ok


def test_a_lying_postalias_and_postmap_are_not_asked(session_of):
    """Aliases and maps are looked up by Postfix's own postalias and postmap, on copies of the tables."""
    session = session_of("addresses")
    session.reset(session.lab.steps[0].id)
    _liar(session, "/usr/sbin/postalias", "alice, bob")
    _liar(session, "/usr/sbin/postmap", "alice@example.test")
    host = session.host()
    assert host.postalias_query("sales") is None  # the starting state has no such alias
    assert host.postalias_query("postmaster") == "root"
    assert host.postmap_query("nobody@example.test", "hash:/etc/aliases") is None


def test_a_lying_dpkg_query_and_getent_claim_nothing(session_of):
    """Packages come from dpkg's status file and users from /etc/passwd, read by the host."""
    session = session_of("install-postfix")
    session.reset("install")  # Postfix not installed
    _liar(session, "/usr/bin/dpkg-query", "install ok installed\t3.7.11-0+deb12u1")
    _liar(session, "/usr/bin/getent", "alice:x:1000:1000::/home/alice:/bin/bash")
    host = session.host()
    assert not host.package("postfix").installed
    assert host.package("tini").installed  # a package the image has
    assert not host.user("alice").exists and host.user("root").uid == 0
    assert session.check("install").status is Status.FAIL


def test_liars_do_not_pass_a_configuration_that_was_never_reloaded(session_of):
    """The reload step: ages from the host's /proc and the no-follow walk, the greeting from the grader's
    own connection, Postfix's state from master.pid and the kernel."""
    from grader.reach import describe_greeting, smtp_greeting

    session = session_of("basic-config")
    session.reset("identity")  # Postfix runs with the starting main.cf
    session.machine().exec(["sh", "-c", "sleep 1.1; postconf -e myhostname=mail.example.test mydomain=example.test "
                                        "'myorigin = $mydomain' 'mydestination = $myhostname, localhost.$mydomain, "
                                        "localhost, $mydomain'"])
    _liar(session, "/usr/bin/pgrep", "1")
    _liar(session, "/usr/bin/stat", "1.0 /etc/postfix/main.cf")  # "written at the epoch": long before the start
    _liar(session, "/usr/bin/date", "9999999999.0")
    _liar(session, "/usr/sbin/postfix", "postfix/postfix-script: the Postfix mail system is running: PID: 77")
    _liar(session, "/usr/bin/python3", "220 mail.example.test ESMTP Postfix (Debian/GNU)")
    result = session.check("reload")
    assert result.status is Status.FAIL, result
    assert result.first_problem.name == "postfix_has_read_main_cf_since_its_last_change", result.first_problem
    # The greeting is what the running server sends the grader's own connection, not what python3 prints.
    _liar(session, "/usr/bin/python3", "220 liar.invalid ESMTP")
    greeting = describe_greeting(smtp_greeting(session.host()))
    assert greeting.startswith("220 ") and "liar" not in greeting and "Postfix" in greeting, greeting


def test_a_lying_python3_does_not_pass_a_wrong_password(session_of):
    """Passwords are checked against /etc/shadow (read by the host) with the grader's own crypt(3)."""
    session = session_of("local-users")
    session.reset("add-users")
    session.solve("add-users", only=True)
    session.machine().exec(["sh", "-c", "echo bob:wrong | chpasswd"])
    _liar(session, "/usr/bin/python3", "yes")
    result = session.check("add-users")
    assert result.status is Status.FAIL, result
    assert result.first_problem.name == "they_have_the_course_passwords", result.first_problem
    assert "bob's password is not bob123" in str(result.first_problem.detail)
    session.machine().exec(["sh", "-c", "echo bob:bob123 | chpasswd"])
    _liar(session, "/usr/bin/python3", "no")
    assert session.check("add-users").status is Status.PASS


def test_a_lying_dig_does_not_pass_a_wrong_nameserver(session_of):
    """The machine's resolver is asked by the grader itself: /etc/resolv.conf read by the host, its name
    servers queried from the machine's own network."""
    session = session_of("dns-mx")
    said = _solved_output(session, "resolver", ["dig", "+time=2", "+tries=1", "MX", "remote.test"])
    assert "SERVER: 192.0.2.53#" in said
    session.reset("send-remote")  # the resolver step solved
    machine = session.machine()
    good = machine.exec(["cat", "/etc/resolv.conf"]).out
    machine.exec(["sh", "-c", "printf 'nameserver 10.0.0.53\\n' > /etc/resolv.conf"])
    _liar(session, "/usr/bin/dig", said)
    result = session.check("resolver")
    assert result.status is Status.FAIL, result
    assert result.first_problem.name == "the_machine_resolves_mx_records_through_the_lab_dns", result.first_problem
    assert "10.0.0.53" in str(result.first_problem.detail)
    machine.exec(["sh", "-c", "cat > /etc/resolv.conf"], input=good.encode())
    _liar(session, "/usr/bin/dig", ";; connection timed out; no servers could be reached", 9)
    assert session.check("resolver").status is Status.PASS


def test_lying_postalias_and_doveadm_do_not_pass_the_repair(session_of):
    """Troubleshooting: the alias is looked up by Postfix's own postalias, alice's mail read from her Maildir."""
    session = session_of("troubleshooting", drawn=("aliases-not-rebuilt", "domain-not-local", "lmtp-socket",
                                                   "mail-on-hold", "maildir-permissions"))
    session.reset("repair")
    session.solve("repair", only=True)
    machine = session.machine()
    machine.exec(["sh", "-c", "sed -i '/^support:/d' /etc/aliases && newaliases"])
    _liar(session, "/usr/sbin/postalias", "alice")
    result = session.check("repair")
    assert result.status is Status.FAIL, result
    assert result.first_problem.name == "every_fault_is_repaired", result.first_problem
    assert result.first_problem.about == "aliases-not-rebuilt", result.first_problem
    machine.exec(["sh", "-c", "mv /usr/sbin/postalias.real /usr/sbin/postalias && echo 'support: alice' >> /etc/aliases"
                              " && newaliases"])
    result = session.check("repair")
    assert result.status is Status.PASS, result
    # The held messages gone from alice's Maildir: a doveadm that "finds" them does not bring them back.
    machine.exec(["sh", "-c", "grep -rlE 'held-[12].maillab@example.test' /home/alice/Maildir | xargs -r rm -f"])
    _liar(session, "/usr/bin/doveadm", "0123456789abcdef0123456789abcdef 1")
    result = session.check("repair")
    assert result.status is Status.FAIL, result
    assert result.first_problem.name == "the_waiting_mail_reached_alice", result.first_problem
