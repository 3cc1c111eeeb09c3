"""Postfix's state from master.pid and the kernel's table, and what counts as an SMTP greeting:
decided from what the host reads, with no command run in the machine."""
from grader.testing import FakeBackend
from grader.host import Host
from grader.liveconf import MASTER_PID, postfix_master
from grader.reach import describe_greeting, speaks_smtp
from grader.smtp_probe import Conversation, Reply

PASSWD = "root:x:0:0:root:/root:/bin/bash\npostfix:x:101:101::/var/spool/postfix:/usr/sbin/nologin\n"


def _host(pid_file, processes):
    fake = FakeBackend({"/etc/passwd": PASSWD})
    if pid_file is not None:
        fake.add_file(MASTER_PID, pid_file)
    fake.kernel_processes = lambda: processes
    fake.on("postfix", "status", stdout="the Postfix mail system is running")  # a liar: never asked
    return fake, Host(fake)


def test_master_pid_naming_a_running_master_is_postfix_running():
    fake, host = _host("        356\n", [(356, 0, "master", "/usr/lib/postfix/sbin/master -w"),
                                          (358, 101, "qmgr", "qmgr -l -t unix -u")])
    assert postfix_master(host).pid == 356
    assert fake.commands() == []


def test_no_pid_file_a_stale_pid_or_an_impostor_is_not_running():
    for pid_file, processes in [
        (None, [(356, 0, "master", "master")]),                 # no master.pid
        ("356\n", []),                                           # stale: that process is gone
        ("356\n", [(356, 0, "sleep", "sleep 1000")]),            # some other program has the number
        ("356\n", [(356, 101, "master", "master")]),             # not root's
        ("three\n", [(356, 0, "master", "master")]),             # no number at all
    ]:
        fake, host = _host(pid_file, processes)
        assert postfix_master(host).pid is None, (pid_file, processes)
        assert fake.commands() == []


def _talk(banner=None, ehlo=None, connected=True, error=None):
    return Conversation("127.0.0.1", 25, connected=connected, error=error,
                        banner=banner and Reply(*banner), ehlo=ehlo and Reply(*ehlo))


def test_an_smtp_server_greets_and_answers_ehlo():
    talk = _talk((220, ("mail.example.test ESMTP Postfix (Debian/GNU)",)), (250, ("mail.example.test", "8BITMIME")))
    assert speaks_smtp(talk)
    assert describe_greeting(talk) == "220 mail.example.test ESMTP Postfix (Debian/GNU)"


def test_a_port_that_only_prints_a_line_or_refuses_is_no_smtp_server():
    assert not speaks_smtp(_talk((220, ("liar",)), None))
    assert not speaks_smtp(_talk((554, ("go away",)), (250, ("x",))))
    refused = _talk(connected=False, error="connection refused")
    assert not speaks_smtp(refused) and describe_greeting(refused) == "connection refused"
