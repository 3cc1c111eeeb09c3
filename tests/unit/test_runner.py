"""Running a step: order, stop at the first FAIL, ERROR for broken sandboxes and grader bugs."""
from __future__ import annotations

import logging

from grader import Fail, Host, Status, check
from grader.testing import FakeBackend, FakeClock
from grader.runner import run_step



def make_host(fake=None, clock=None):
    clock = clock or FakeClock()
    return Host(fake or FakeBackend(), clock=clock, sleep=clock.sleep), clock


@check(step="install", hint="Install Postfix: `apt-get install postfix`.")
def postfix_is_installed(host):
    pkg = host.package("postfix")
    if not pkg.installed:
        raise Fail(f"dpkg-query says: {pkg.status}")
    return f"postfix {pkg.version} is installed"


@check(step="install", hint="Start Postfix: `service postfix start`.")
def postfix_is_running(host):
    if not host.processes(comm="master"):
        raise Fail("no Postfix master process is running")
    return "master is running"


@check(step="install", hint="Never shown.")
def port_25_listens(host):
    return "25 open"


def installed_fake():
    fake = FakeBackend()
    fake.on("dpkg-query", stdout="install ok installed\t3.7.11-0+deb12u1\n")
    fake.on("ps", stdout="  PID USER COMMAND COMMAND\n    1 root tini /sbin/tini -- sleep\n")
    return fake


def test_first_fail_stops_the_step_and_later_checks_do_not_run():
    host, clock = make_host(installed_fake())
    steps = [postfix_is_installed, postfix_is_running, port_25_listens]
    result = run_step(steps, host, lab="02", step="install", clock=clock, sleep=clock.sleep)
    assert [i.status for i in result.items] == [Status.PASS, Status.FAIL, Status.NOT_RUN]
    assert result.status is Status.FAIL
    assert result.items[0].detail == "postfix 3.7.11-0+deb12u1 is installed"
    assert result.items[1].hint == "Start Postfix: `service postfix start`."
    assert result.items[1].detail == "no Postfix master process is running"
    assert result.items[2].hint is None
    assert result.started_at.endswith("+00:00")
    assert all(i.duration >= 0 for i in result.items)


def test_all_pass():
    fake = installed_fake()
    fake.on("ps", stdout="  PID USER COMMAND COMMAND\n  80 root master /usr/lib/postfix/sbin/master -w\n")
    host, clock = make_host(fake)
    result = run_step([postfix_is_installed, postfix_is_running, port_25_listens], host,
                      lab="02", step="install", clock=clock, sleep=clock.sleep)
    assert result.passed and [i.detail for i in result.items][-1] == "25 open"


def test_a_hint_given_to_fail_overrides_the_declared_one():
    @check(step="s", hint="declared")
    def specific(host):
        raise Fail("seen", hint="specific to what was seen")

    host, clock = make_host()
    item = run_step([specific], host, lab="l", step="s", clock=clock, sleep=clock.sleep).items[0]
    assert (item.status, item.hint, item.detail) == (Status.FAIL, "specific to what was seen", "seen")


def test_a_missing_command_is_a_clear_observation_not_a_crash():
    host, clock = make_host(FakeBackend())  # nothing installed: every command exits 127
    result = run_step([postfix_is_installed], host, lab="02", step="install",
                      clock=clock, sleep=clock.sleep)
    item = result.items[0]
    assert item.status is Status.FAIL
    assert item.detail == "dpkg-query: command not found (is dpkg installed?)"


def test_postconf_missing_says_postfix_is_not_installed():
    @check(step="s", hint="h")
    def lint(host):
        host.postconf_lint()

    host, clock = make_host()
    item = run_step([lint], host, lab="l", step="s", clock=clock, sleep=clock.sleep).items[0]
    assert item.detail == "postconf: command not found (is Postfix installed?)"
    assert item.hint == "Install it with `apt-get install postfix`, then check again."


def test_a_command_timeout_is_an_error_with_the_sandbox_sentence():
    fake = FakeBackend()
    fake.on("dpkg-query", timeout=True)
    host, clock = make_host(fake)
    result = run_step([postfix_is_installed, postfix_is_running], host, lab="02", step="install",
                      clock=clock, sleep=clock.sleep)
    assert [i.status for i in result.items] == [Status.ERROR, Status.NOT_RUN]
    assert result.status is Status.ERROR
    assert result.items[0].detail.startswith("The command `dpkg-query -W")
    assert "did not finish within 10 s" in result.items[0].detail
    assert "reset" in result.items[0].hint


def test_an_unexpected_exception_is_an_error_without_traceback(caplog):
    @check(step="s", hint="h")
    def buggy_check(host):
        return {}["missing"]

    host, clock = make_host()
    with caplog.at_level(logging.ERROR, logger="grader.runner"):
        result = run_step([buggy_check], host, lab="l", step="s", clock=clock, sleep=clock.sleep)
    item = result.items[0]
    assert item.status is Status.ERROR
    assert item.detail == "The grader itself failed while checking this (KeyError: 'missing')."
    assert "Traceback" not in str(result) and "Traceback" not in result.to_html()
    assert "\n" not in item.detail
    assert "not in your work" in item.hint
    assert any(r.exc_info for r in caplog.records)  # the instructor's log has the traceback


def test_within_retries_until_the_state_settles():
    calls = []

    @check(step="s", hint="h", within=5)
    def settles(host):
        calls.append(1)
        if len(calls) < 4:
            raise Fail(f"not yet ({len(calls)})")
        return "settled"

    host, clock = make_host()
    result = run_step([settles], host, lab="l", step="s", clock=clock, sleep=clock.sleep)
    assert result.passed and len(calls) == 4
    assert result.items[0].duration > 0


def test_within_gives_up_after_its_bound_with_the_last_observation():
    calls = []

    @check(step="s", hint="h", within=1)
    def never(host):
        calls.append(1)
        raise Fail(f"attempt {len(calls)}")

    host, clock = make_host()
    result = run_step([never], host, lab="l", step="s", clock=clock, sleep=clock.sleep)
    item = result.items[0]
    assert item.status is Status.FAIL and item.detail == f"attempt {len(calls)}"
    assert 3 <= len(calls) <= 6
    assert item.duration <= 1.0


def test_without_within_a_fail_is_not_retried():
    calls = []

    @check(step="s", hint="h")
    def once(host):
        calls.append(1)
        raise Fail("no")

    host, clock = make_host()
    run_step([once], host, lab="l", step="s", clock=clock, sleep=clock.sleep)
    assert calls == [1]


def test_the_step_deadline_bounds_commands_and_later_checks():
    @check(step="s", hint="h")
    def slow(host):
        clock.now += 55  # the check itself used most of the step's time
        host.run("postconf", "-h", "myhostname")
        return "ok"

    fake = FakeBackend()
    fake.on("postconf", stdout="mail\n")
    host, clock = make_host(fake)
    result = run_step([slow, port_25_listens], host, lab="l", step="s", deadline=60,
                      clock=clock, sleep=clock.sleep)
    assert fake.calls[0][2] == 5  # the command got what was left of the step, not 10 s
    assert result.items[0].status is Status.PASS

    clock.now += 0

    @check(step="s", hint="h")
    def too_slow(host):
        clock.now += 61
        return "done, but late"

    result = run_step([too_slow, port_25_listens], host, lab="l", step="s", deadline=60,
                      clock=clock, sleep=clock.sleep)
    assert [i.status for i in result.items] == [Status.PASS, Status.ERROR]
    assert "time limit" in result.items[1].detail


def test_no_checks_is_not_run():
    host, clock = make_host()
    result = run_step([], host, lab="l", step="s", clock=clock, sleep=clock.sleep)
    assert result.status is Status.NOT_RUN and result.items == ()


def test_a_flood_of_detail_is_cut_to_a_readable_length():
    """Does a check that quotes 8 MiB of a learner's output give a detail of bounded size?"""
    from grader.runner import DETAIL_LIMIT

    @check(step="s", hint="Do it.")
    def floods(host):
        raise Fail("inet_interfaces = " + "y " * 4_000_000)

    result = run_step([floods], Host(FakeBackend()), lab="l", step="s")
    detail = result.items[0].detail
    assert len(detail) <= DETAIL_LIMIT and detail.startswith("inet_interfaces = y y")
    assert detail.endswith("more characters)")


# -- the hint ladder ------------------------------------------------------------------------

@check(step="repair", hint="Mail for alice does not arrive.",
       more_hints=["Look at /var/log/mail.log for alice's last message.", "alice's Maildir has no trailing slash."])
def mail_reaches_alice(host):
    raise Fail("no message for alice arrived")


@check(step="repair", hint="Postfix does not take mail.", more_hints=["Look at inet_interfaces."])
def postfix_takes_mail(host):
    raise Fail("connection refused", hint="inet_interfaces = loopback-only: use all, then `postfix reload`.")


def test_each_earlier_fail_climbs_one_rung_of_the_ladder():
    host, _ = make_host()
    shown = []
    for before in (0, 1, 2, 7):
        item = run_step([mail_reaches_alice], host, lab="demo", step="repair",
                        fails_before={"mail_reaches_alice": before}).items[0]
        shown.append((item.hint_level, item.hint))
    assert shown == [(0, "Mail for alice does not arrive."),
                     (1, "Look at /var/log/mail.log for alice's last message."),
                     (2, "alice's Maildir has no trailing slash."),
                     (2, "alice's Maildir has no trailing slash.")]
    assert mail_reaches_alice.ladder[0] == mail_reaches_alice.hint


def test_a_fail_that_names_the_problem_keeps_its_own_hint():
    host, _ = make_host()
    item = run_step([postfix_takes_mail], host, lab="demo", step="repair",
                    fails_before={"postfix_takes_mail": 1}).items[0]
    assert (item.hint_level, item.hint) == (0, "inet_interfaces = loopback-only: use all, then `postfix reload`.")


def test_more_hints_must_be_hints():
    import pytest

    from grader.check import ChecksError

    with pytest.raises(ChecksError, match="more_hints"):
        check(step="x", hint="h", more_hints="one string")
    with pytest.raises(ChecksError, match="more_hints"):
        check(step="x", hint="h", more_hints=["", "b"])


LEFT = ["lmtp-socket"]  # the fault the check below finds


@check(step="repair", hint="Something is still broken.")
def every_fault_is_repaired(host):
    fault = LEFT[0]
    raise Fail("one fault is left", ladder=(f"symptom of {fault}", f"where {fault} shows", f"what {fault} is"),
               about=fault)


def test_a_fail_with_its_own_ladder_climbs_it_per_thing_it_is_about():
    """Rungs are counted per `about` (one fault of several): the next fault starts at its symptom."""
    from grader.runner import ladder_key

    host, _ = make_host()
    LEFT[0] = "lmtp-socket"
    seen = []
    for before in ({}, {ladder_key("every_fault_is_repaired", "lmtp-socket"): 1},
                   {ladder_key("every_fault_is_repaired", "lmtp-socket"): 5, "every_fault_is_repaired": 5}):
        item = run_step([every_fault_is_repaired], host, lab="demo", step="repair", fails_before=before).items[0]
        seen.append((item.hint_level, item.hint, item.about))
    assert seen == [(0, "symptom of lmtp-socket", "lmtp-socket"), (1, "where lmtp-socket shows", "lmtp-socket"),
                    (2, "what lmtp-socket is", "lmtp-socket")]
    LEFT[0] = "open-relay"
    item = run_step([every_fault_is_repaired], host, lab="demo", step="repair",
                    fails_before={"every_fault_is_repaired": 6,
                                  ladder_key("every_fault_is_repaired", "lmtp-socket"): 6}).items[0]
    assert (item.hint_level, item.hint) == (0, "symptom of open-relay")


def test_a_pass_detail_speaks_the_learners_language():
    """Issue 17 item 12: what a PASS saw is translated like a FAIL's detail."""
    from grader import i18n
    from grader.i18n import _

    @check(step="install", hint="Install it.")
    def installed(host):
        return _("postfix {version} is installed", version="3.7.11")

    host, _clock = make_host()
    with i18n.speaking("zh"):
        item = run_step([installed], host, lab="demo", step="install").items[0]
    assert item.detail == i18n.translate(_("postfix {version} is installed", version="3.7.11"), "zh")
    assert "3.7.11" in item.detail and item.detail != "postfix 3.7.11 is installed"
