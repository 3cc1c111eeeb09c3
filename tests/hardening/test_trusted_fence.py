"""The grader's trusted tools are fenced in the same way whichever process starts them: a forked child
of a single-threaded check (enter.fence_tool before exec, no new Python) or enter.py's tool mode (a
process with other threads, where a fork could copy a lock another thread holds)."""
import os
import threading

import pytest

from sandbox import Machine, MachineSpec, image, trusted

pytestmark = pytest.mark.machine
NAME = os.environ.get("MAILLAB_TEST_LEARNER", "pytest") + "-fence--lab--mail"
PROBE = ["/bin/sh", "-c", "id -u; id -g; id -G; hostname; cat /etc/postfix/main.cf; "
                          f"for p in {os.path.dirname(os.path.abspath(__file__))} /var/lib/maillab; do "
                          "[ -e $p ] && echo sees $p; done; echo looked; "
                          "touch /etc/x 2>/dev/null && echo wrote || echo read-only"]


@pytest.fixture(scope="module")
def machine():
    m = Machine.create(NAME, MachineSpec(hostname="fenced", lowers=[str(image.ensure_image(quiet=True))]))
    yield m
    m.destroy()


def _run(machine, monkeypatch, *, busy: bool):
    ways = []
    real = trusted.run_bounded

    def spy(argv, **options):
        ways.append("fork" if options.get("preexec_fn") else "enter.py")
        return real(argv, **options)
    monkeypatch.setattr(trusted, "run_bounded", spy)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait) if busy else None
    if other is not None:
        other.start()
    try:
        done = trusted.run(machine, PROBE, {"/etc/postfix/main.cf": b"copy = yes\n"})
    finally:
        stop.set()
        if other is not None:
            other.join()
    return ways, done


@pytest.mark.parametrize("busy", [False, True], ids=["forked-child", "enter-py"])
def test_a_trusted_tool_is_nobody_in_a_read_only_tree_in_the_machines_host_name(machine, monkeypatch, busy):
    ways, done = _run(machine, monkeypatch, busy=busy)
    assert ways == (["enter.py"] if busy else ["fork"])
    lines = done.out.splitlines()
    assert done.returncode == 0, done
    assert lines[:4] == ["65534", "65534", "65534", "fenced"]
    assert "copy = yes" in lines  # the copies given, laid over the tree
    assert lines[-2:] == ["looked", "read-only"]  # none of the host's folders, and nothing to write


def test_a_tool_that_cannot_start_is_told_by_enter_py(machine, monkeypatch):
    ways, done = _run(machine, monkeypatch, busy=False)
    assert ways == ["fork"]
    missing = trusted.run(machine, ["/usr/sbin/no-such-tool"], {})
    assert missing.returncode == 125 and "no-such-tool" in missing.err
