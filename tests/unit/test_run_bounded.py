"""A bounded host command: a daemon it leaves behind holding its output must not hold the caller."""
import subprocess
import time

from sandbox.runner import run_bounded


def test_a_daemon_keeping_the_pipes_open_does_not_hold_the_command():
    """Does `service dovecot start` (whose daemon keeps stderr) return once the script ends?"""
    started = time.monotonic()
    done = run_bounded(["sh", "-c", "sleep 5 & echo started; echo on-stderr >&2"], timeout=10)
    assert time.monotonic() - started < 3
    assert done.returncode == 0 and done.out == "started\n" and "on-stderr" in done.err


def test_output_written_just_before_the_end_is_kept():
    done = run_bounded(["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x"], timeout=10)
    assert len(done.out) == 300000
