"""What keeps a check cheap without changing its answer: a trusted postconf asked twice on the same
files runs once, a machine's listening sockets from netlink are those /proc lists, and run_bounded
notices a command's end without polling."""
import os
import socket
import time

from grader.host import TRUSTED_REUSE
from grader.testing import FakeBackend, FakeClock, fake_host
from sandbox import procview
from sandbox.result import ExecResult
from sandbox.runner import run_bounded


class TrustedBackend(FakeBackend):
    """A backend with trusted tools: each run of one is counted, and answers from the main.cf given."""

    def __init__(self, files=None, code=0):
        super().__init__(files)
        self.trusted_runs = []
        self.code = code

    def run_trusted(self, argv, files, *, opaque=(), timeout):
        self.trusted_runs.append(list(argv))
        value = files.get("/etc/postfix/main.cf", b"").decode().partition("= ")[2].strip()
        return ExecResult(tuple(argv), self.code, value.encode() + b"\n", b"", 0.0)


def _host(code=0):
    backend = TrustedBackend({"/usr/sbin/postconf": "", "/etc/postfix/main.cf": "maillog_file = /var/log/mail.log\n"},
                             code)
    clock = FakeClock()
    return backend, clock, fake_host(backend, clock)


def test_the_same_question_on_the_same_files_runs_postconf_once():
    backend, _clock, host = _host()
    assert host.postconf("maillog_file", expand=True) == "/var/log/mail.log"
    assert host.postconf("maillog_file", expand=True) == "/var/log/mail.log"
    assert len(backend.trusted_runs) == 1
    host.postconf("maillog_file")  # another question: another run
    assert len(backend.trusted_runs) == 2


def test_a_changed_file_is_asked_again():
    backend, _clock, host = _host()
    host.postconf("maillog_file")
    backend.add_file("/etc/postfix/main.cf", "maillog_file = /var/log/other.log\n")
    assert host.postconf("maillog_file") == "/var/log/other.log"
    assert len(backend.trusted_runs) == 2


def test_an_answer_is_reused_for_a_moment_only():
    backend, clock, host = _host()
    host.postconf("maillog_file")
    clock.now += TRUSTED_REUSE + 0.1
    host.postconf("maillog_file")
    assert len(backend.trusted_runs) == 2


def test_a_failed_run_is_never_reused():
    backend, _clock, host = _host(code=1)
    for _ in range(2):
        try:
            host.postconf("maillog_file")
        except Exception:  # noqa: BLE001 - the Fail of a failed postconf; only the count matters here
            pass
    assert len(backend.trusted_runs) == 2


def test_netlink_lists_the_listening_sockets_proc_lists():
    made = []
    try:
        for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                sock = socket.socket(family, kind)
                made.append(sock)
                sock.bind((address, 0))
                if kind == socket.SOCK_STREAM:
                    sock.listen()
        ports = {sock.getsockname()[1] for sock in made}
        for proto in ("tcp", "udp"):
            by_netlink = procview._diag_sockets(os.getpid(), proto)
            by_proc = procview._proc_sockets(os.getpid(), proto)
            assert sorted(by_netlink, key=repr) == sorted(by_proc, key=repr)
            assert len([s for s in by_netlink if s.port in ports]) == 2  # ours, v4 and v6
            assert sorted(procview.sockets(os.getpid(), proto), key=repr) == sorted(by_proc, key=repr)
    finally:
        for sock in made:
            sock.close()


def test_run_bounded_returns_when_the_command_ends():
    started = time.monotonic()
    done = run_bounded(["sh", "-c", "sleep 0.2; exit 3"], timeout=10)
    took = time.monotonic() - started
    assert done.returncode == 3
    assert took < 0.2 + 0.04, took  # Popen.wait's polling would add up to 50 ms


def test_run_bounded_waits_for_a_command_that_closed_its_output():
    done = run_bounded(["sh", "-c", "echo out; echo err >&2; exec >&- 2>&-; sleep 0.2; exit 4"], timeout=10)
    assert (done.returncode, done.out, done.err) == (4, "out\n", "err\n")
