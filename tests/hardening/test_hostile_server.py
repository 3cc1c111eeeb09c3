"""A learner's port 25 attacks the grader's own SMTP connection (lab 02's step "start" speaks SMTP
to the machine): a greeting of hundreds of MiB on one line, an endless multi-line greeting. The
check fails with a sentence naming what was seen, soon, and the grader does not grow; afterwards
the same step passes again once Postfix holds the port."""
import time

import pytest

from grader.result import Status
from classroom.session import open_session

pytestmark = pytest.mark.machine

LEARNER = "pytest-gr8"
# A server written for the attack (the image has python3): every client gets `chunk` for ever.
SERVER = r'''
import os, socket, sys
chunk = {"oneline": b"220 " + b"x" * 65536, "multiline": (b"220-" + b"x" * 1000 + b"\r\n") * 64}[sys.argv[1]]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 25)); s.listen(8)
while True:
    c, _ = s.accept()
    if os.fork() == 0:
        try:
            while True:
                c.sendall(chunk)
        except OSError:
            os._exit(0)
    c.close()
'''


def _hwm_kib() -> int:
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM")).split()[1])


@pytest.fixture(scope="module")
def session():
    opened = open_session("install-postfix", LEARNER, record=False)
    try:
        opened.reset("start")
        opened.solve("start", only=True)
        assert opened.check("start").status is Status.PASS
        yield opened
    finally:
        for machine in opened.machines():
            machine.destroy()
        network = opened.network()
        if network is not None:
            network.destroy()


def _attack(session, mode: str) -> None:
    """Postfix keeps running without its smtp service; the attacker takes port 25."""
    machine = session.machine()
    machine.exec(["sh", "-c", "postconf -M# smtp/inet && postfix reload >/dev/null 2>&1; sleep 1"], timeout=30)
    machine.exec(["sh", "-c", f"python3 -c '{SERVER}' {mode} >/dev/null 2>&1 & echo $! >/run/attacker.pid"],
                 timeout=30)
    for _ in range(50):
        if machine.exec(["sh", "-c", "ss -ltn | grep -q ':25 '"], timeout=10).returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError("the attacker's server did not listen")


def _restore(session) -> None:
    machine = session.machine()
    done = machine.exec(["sh", "-c", "kill $(cat /run/attacker.pid); sleep 0.3; "
                                     "postconf -M smtp/inet='smtp inet n - y - - smtpd' && postfix reload; sleep 1"],
                        timeout=30)
    assert done.returncode == 0, done.err


@pytest.mark.parametrize("mode, said", [
    ("multiline", "the server on port 25 sent more than 64 KiB before its greeting ended"),
    ("oneline", "the server on port 25 sent a line of more than 8 KiB in its greeting"),
])
def test_a_flooding_port_25_fails_the_check_with_a_sentence(session, mode, said):
    _attack(session, mode)
    try:
        before = _hwm_kib()
        started = time.monotonic()
        result = session.check("start")
        assert time.monotonic() - started < 15
        assert result.status is Status.FAIL, result
        problem = result.first_problem
        assert problem.name == "smtp_port_25_is_listening", result
        assert said in problem.detail, problem
        assert _hwm_kib() - before < 20 * 1024  # KiB: the caller did not grow; the child read 64 KiB at most
    finally:
        _restore(session)
    # The grader is unharmed: the same step passes once Postfix holds the port again.
    again = session.check("start")
    assert again.status is Status.PASS, again
