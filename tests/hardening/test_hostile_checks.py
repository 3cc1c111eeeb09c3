"""A hostile machine fails its own check with a sentence, and nothing else: a check that would eat
the grader's memory or never end is cut off in its child process; a learner's port 25 that floods
the grader's SMTP client is cut off in the probe."""
import resource
import textwrap
import time

import pytest

from classroom import isolated
from grader import course
from grader.result import Status
from classroom.session import open_session

pytestmark = pytest.mark.machine

CHECKS = '''
import time
from grader import check

@check(step="greedy", hint="none")
def takes_a_gigabyte(host):
    hoard = b"x" * (1 << 30)  # what an unbounded reader of a hostile server would hold
    return str(len(hoard))

@check(step="slow", hint="none")
def never_ends(host):
    time.sleep(600)
'''
LAB = '''
id = "hostile-checks"
title = "Hostile checks"
[[machines]]
name = "mail"
hostname = "mail"
domain = "example.test"
[[steps]]
id = "greedy"
title = "Greedy"
[[steps]]
id = "slow"
title = "Slow"
'''


@pytest.fixture
def lab(tmp_path):
    folder = tmp_path / "90-hostile-checks"
    folder.mkdir()
    (folder / "lab.toml").write_text(textwrap.dedent(LAB))
    (folder / "checks.py").write_text(textwrap.dedent(CHECKS))
    return course.load(folder)


def test_a_check_that_eats_memory_fails_alone(lab):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = isolated.run_isolated(lab, "pytest-hostile", "greedy", deadline=30)
    assert result.status is Status.ERROR
    assert f"more than {isolated.MEMORY_CAP // 2**20} MiB" in result.items[0].detail, result.items[0]
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB: the caller did not grow


def test_a_check_that_never_ends_is_stopped(lab, monkeypatch):
    monkeypatch.setattr(isolated, "GRACE", 1.0)
    started = time.monotonic()
    result = isolated.run_isolated(lab, "pytest-hostile", "slow", deadline=1)
    assert time.monotonic() - started < 5
    assert result.status is Status.ERROR and "did not finish within 2 s" in result.items[0].detail
    # The next check runs as usual.
    assert isolated.run_isolated(lab, "pytest-hostile", "greedy", deadline=30).status is Status.ERROR


# Listens on port 25 and greets every client with an endless multi-line 220: 267 MiB and more.
FLOOD = ("perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(Listen => 5, LocalAddr => $ARGV[0], LocalPort => 25, "
         "ReuseAddr => 1) "
         "or die; $l = \"220-\" . (\"x\" x 1000) . \"\\r\\n\"; while ($c = $s->accept) { next if fork; "
         "print $c $l x 64 while 1; exit }' \"$(hostname -i)\" >/dev/null 2>&1 &")


def test_a_flooding_port_25_fails_the_step_with_a_sentence():
    session = open_session("relay-control", "pytest-hostile", record=False)
    try:
        session.reset("not-open-relay")
        machine = session.machine()
        # Postfix keeps running on the loopback only; the flood takes port 25 of the lab address.
        machine.exec(["sh", "-c", "postconf -e inet_interfaces=loopback-only && postfix stop >/dev/null 2>&1; "
                                  "postfix start >/dev/null 2>&1; " + FLOOD], timeout=30)
        time.sleep(0.5)
        started = time.monotonic()
        result = session.check("not-open-relay")
        assert time.monotonic() - started < 40
        assert result.status is Status.FAIL, result
        assert "KiB" in result.first_problem.detail or "200 lines" in result.first_problem.detail, result.first_problem
    finally:
        for m in session.machines():
            m.destroy()
        network = session.network()
        if network is not None:
            network.destroy()
