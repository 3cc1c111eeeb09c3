"""`maillab forward`: real poplib, imaplib and smtplib on the host reach the learner's machine."""
import imaplib
import poplib
import smtplib
import threading

import pytest

from grader.errors import UsageError
from classroom.forward import parse_listen, route_for, serve
from classroom.session import open_session

from .conftest import LEARNER

pytestmark = pytest.mark.machine


@pytest.fixture(scope="module")
def dovecot_lab():
    session = open_session("dovecot", LEARNER, record=False)
    session.reset("imap")
    session.solve("imap", only=True)
    yield session
    for machine in session.machines():
        machine.destroy()
    session.network().destroy()


def _forwarding(session, port):
    route = route_for(session, None, port, "127.0.0.1:0")
    ready, stop = threading.Event(), threading.Event()
    bound = {}

    def on_ready(listener):
        bound["port"] = listener.getsockname()[1]
        ready.set()
    thread = threading.Thread(target=serve, args=(route,), kwargs={"ready": on_ready, "stop": stop}, daemon=True)
    thread.start()
    assert ready.wait(5)
    return bound["port"], stop, thread


def test_real_clients_through_the_forwarded_ports(dovecot_lab):
    smtp_port, stop_smtp, t1 = _forwarding(dovecot_lab, 25)
    pop_port, stop_pop, t2 = _forwarding(dovecot_lab, 110)
    imap_port, stop_imap, t3 = _forwarding(dovecot_lab, 143)
    try:
        with smtplib.SMTP("127.0.0.1", smtp_port, local_hostname="client.example", timeout=10) as smtp:
            assert smtp.ehlo()[0] == 250
            smtp.sendmail("friend@client.example", ["alice@example.test"],
                          b"Subject: through maillab forward\r\nX-Forward-Test: yes\r\n\r\nhello\r\n")
        host = dovecot_lab.host()
        for _ in range(50):
            if host.run("doveadm", "search", "-u", "alice", "mailbox", "INBOX", "header", "X-Forward-Test", "yes").out:
                break
            threading.Event().wait(0.1)
        pop = poplib.POP3("127.0.0.1", pop_port, timeout=10)
        pop.user("alice")
        pop.pass_("alice123")
        assert pop.stat()[0] >= 1
        pop.quit()
        imap = imaplib.IMAP4("127.0.0.1", imap_port, timeout=10)
        imap.login("alice", "alice123")
        imap.select("INBOX", readonly=True)
        status, found = imap.search(None, "SUBJECT", '"through maillab forward"')
        assert status == "OK" and found[0].split()
        imap.logout()
    finally:
        for stop in (stop_smtp, stop_pop, stop_imap):
            stop.set()
        for thread in (t1, t2, t3):
            thread.join(5)
    # The server saw the outside client, as the grader's probes do.
    assert "client.example[203.0.113.10]" in host.file("/var/log/mail.log").text


def test_only_loopback_may_listen():
    with pytest.raises(UsageError):
        parse_listen("0.0.0.0:2525", 25)
    assert parse_listen(None, 110) == ("127.0.0.1", 10110)
    assert parse_listen("1143", 143) == ("127.0.0.1", 1143)
