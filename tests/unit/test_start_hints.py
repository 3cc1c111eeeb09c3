"""Issue 17, item 9: a hint never tells a learner whose Postfix runs to `service postfix start` (which
does nothing then). After a bare `postfix start` the chroot lacks its copies: the hint says restart."""
from __future__ import annotations

import pytest

from grader import Fail, course
from grader.check import load_checks
from grader.liveconf import running_or_not
from grader.testing import FakeBackend, fake_host

CHROOT_COPIES = ("etc/resolv.conf", "etc/hosts", "etc/nsswitch.conf", "etc/services")


def _host(running: bool, *, chroot: bool):
    backend = FakeBackend({"/usr/sbin/postfix": "", **{f"/{rel}": f"{rel}\n" for rel in CHROOT_COPIES}})
    if chroot:
        for rel in CHROOT_COPIES:
            backend.add_file(f"/var/spool/postfix/{rel}", f"{rel}\n")
    # The fakes have no kernel process table: postfix_master asks `postfix status`, as Postfix does.
    backend.on("postfix", "status", returncode=0 if running else 1,
               stderr="postfix/postfix-script: the Postfix mail system is running: PID: 42" if running
               else "postfix/postfix-script: the Postfix mail system is not running")
    return fake_host(backend)


def _check(lab_id: str, step: str, name: str):
    checks = load_checks(course.find(lab_id).checks_file)[step]
    return next(c for c in checks if c.name == name)


def test_running_or_not_picks_the_hint_that_fits():
    assert running_or_not(_host(True, chroot=True), running="restart", stopped="start") == "restart"
    assert running_or_not(_host(False, chroot=True), running="restart", stopped="start") == "start"


def test_after_a_bare_postfix_start_the_chroot_hint_says_restart():
    chroot = _check("install-postfix", "start", "chroot_has_the_name_service_files")
    with pytest.raises(Fail) as seen:
        chroot(_host(True, chroot=False))
    assert "missing in the chroot" in str(seen.value.detail)
    hint = str(seen.value.hint)
    assert "`service postfix restart`" in hint and "service postfix start`" not in hint
    assert "bare `postfix start`" in hint


def test_with_postfix_stopped_the_chroot_hint_says_start():
    chroot = _check("install-postfix", "start", "chroot_has_the_name_service_files")
    with pytest.raises(Fail) as seen:
        chroot(_host(False, chroot=False))
    assert seen.value.hint is None  # the check's own hint: start it with `service postfix start`
    assert "service postfix start" in str(chroot.hint)
    assert chroot(_host(True, chroot=True))  # every copy there: PASS


def _module(lab_id: str):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(f"hints_{lab_id.replace('-', '_')}", course.find(lab_id).checks_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module


def test_a_message_not_finished_while_postfix_runs_is_no_start_hint():
    """Lab 05: a check's message that did not finish says `service postfix start` only when Postfix
    is stopped; while it runs, where to look (the queue, the log)."""
    hint = str(_module("addresses").not_finished_hint(_host(True, chroot=True)))
    assert "postqueue -p" in hint and "service postfix start" not in hint
    assert "service postfix start" in str(_module("addresses").not_finished_hint(_host(False, chroot=True)))


@pytest.mark.parametrize("lab_id", ["test-delivery", "tls", "backup-mx"])
def test_every_start_hint_of_these_labs_depends_on_postfix_running(lab_id):
    """Labs 06, 08 and 11 pick their `service postfix start` hint with running_or_not."""
    _module(lab_id)  # it loads
    source = course.find(lab_id).checks_file.read_text()
    assert "running_or_not(" in source
