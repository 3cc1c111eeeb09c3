"""Root inside replaces the programs the grader used to ask (postconf, ps, ss, postfix) with liars
that print what a solved machine prints: a step in a wrong state must still FAIL, and a solved
machine must still PASS. The genuine answers come from Postfix's own postconf from the image and
from the kernel's tables, read from the host."""
import pytest

from grader.result import Status
from grader.session import open_lab

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

    def open_one(lab_id):
        session = open_lab(lab_id, LEARNER, record=False)
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
    result = session.check("start")
    assert result.status is Status.FAIL, result
    assert result.first_problem.name == "smtp_port_25_is_listening", result.first_problem


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
