"""Lab 07 on real machines and a real lab network: wrong states a learner really gets into FAIL
with the right hint, and the checks leave the network as they found it."""
import time

import pytest

from grader.result import Status

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine

# Wrong states hunted per step: (test function, why it is wrong although it looks right).
HUNTED = {
    "resolver": [
        ("test_bare_postfix_start_keeps_the_stale_chroot_copy", "Postfix runs and /etc/resolv.conf is right, its chroot copy is old"),
        ("test_a_wrong_nameserver_is_named", "resolv.conf has a nameserver line, but not the lab DNS"),
        ("test_a_fresh_copy_but_postfix_stopped", "both resolv.conf copies are right, but Postfix does not run"),
        ("test_resolver_step_with_a_relayhost_finds_no_mx", "sendmail -bv says deliverable, via a relay host, not by MX lookup"),
        ("test_resolver_step_with_dns_lookups_turned_off", "the resolver files are right, Postfix is told not to ask DNS"),
        ("test_resolver_step_with_the_old_dns_server_first", "the lab DNS is named and answers, after a dead server every time"),
    ],
    "send-remote": [
        ("test_a_relayhost_bypasses_the_mx_records", "mail leaves the machine, but to mx2 through a relay host"),
        ("test_a_transport_map_forcing_one_host", "mail leaves the machine, but a transport map forces mx2"),
        ("test_the_primary_left_stopped_is_named", "mail is delivered, to the backup because mx1 was left stopped"),
        ("test_a_relayhost_by_mx_lookup_reaches_mx1_for_every_domain", "mail reaches mx1, but through relayhost: every domain would go there"),
        ("test_mail_held_by_defer_transports", "the message is accepted and queued, but held and never sent"),
        ("test_remote_domain_taken_as_local", "sendmail accepts the message, it is delivered locally, never leaves"),
    ],
    "mx-priority": [
        ("test_a_long_connect_timeout_fails", "failover works, but only after minutes of waiting for mx1"),
        ("test_a_timeout_set_but_not_reloaded_fails", "main.cf has the short timeout, the running Postfix the old one"),
        ("test_a_relayhost_bypasses_the_mx_records", "mail reaches mx2, but through a relay host, not by failover"),
        ("test_a_connect_timeout_of_zero_fails", "0 looks like no waiting, it means no limit of Postfix's own"),
        ("test_only_one_mx_address_tried", "the timeout is right, but Postfix never tries the second MX"),
    ],
}


@pytest.fixture
def lab07(lab_session):
    return lab_session("dns-mx")


def test_bare_postfix_start_keeps_the_stale_chroot_copy(lab07):
    """Does `postfix start` (not `service postfix start`) fail, naming the stale copy and the fix?"""
    lab07.reset("resolver")
    sh(lab07, "postfix start")
    item = first_problem(lab07, "resolver")
    assert item.name == "postfix_chroot_has_the_current_resolv_conf"
    assert "nameserver 10.0.0.53" in item.detail and "nameserver 192.0.2.53" in item.detail
    assert "service postfix restart" in item.hint


def test_a_wrong_nameserver_is_named(lab07):
    lab07.reset("send-remote")
    sh(lab07, "printf 'nameserver 10.0.0.53\\n' > /etc/resolv.conf")
    item = first_problem(lab07, "resolver")
    assert item.name == "the_machine_resolves_mx_records_through_the_lab_dns"
    assert "10.0.0.53" in item.detail and "nameserver 192.0.2.53" in item.hint


def test_a_fresh_copy_but_postfix_stopped(lab07):
    """Copying resolv.conf by hand is fine, but Postfix must run."""
    lab07.reset("resolver")
    sh(lab07, "cp /etc/resolv.conf /var/spool/postfix/etc/resolv.conf")
    item = first_problem(lab07, "resolver")
    assert item.name == "postfix_is_running" and "service postfix start" in item.hint


def test_a_relayhost_bypasses_the_mx_records(lab07):
    lab07.reset("mx-priority")
    sh(lab07, "postconf -e 'relayhost=[mx2.remote.test]' && postfix reload")
    item = first_problem(lab07, "send-remote")
    assert item.name == "mail_to_remote_test_reaches_the_priority_10_mx"
    assert "relayhost = [mx2.remote.test]" in item.detail and "mx2" in item.detail
    assert "postconf -e relayhost=" in item.hint
    # The failover step sees the same mistake, and mx1 is running again afterwards.
    sh(lab07, "postconf -e smtp_connect_timeout=5s && postfix reload")
    item = first_problem(lab07, "mx-priority")
    assert item.name == "with_mx1_down_mail_reaches_mx2" and "relayhost" in item.hint
    assert lab07.node_states()["mx1"] == "up"


def test_a_transport_map_forcing_one_host(lab07):
    lab07.reset("mx-priority")
    sh(lab07, "echo 'remote.test smtp:[mx2.remote.test]' > /etc/postfix/transport && postmap /etc/postfix/transport"
              " && postconf -e transport_maps=hash:/etc/postfix/transport && postfix reload")
    item = first_problem(lab07, "send-remote")
    assert item.name == "mail_to_remote_test_reaches_the_priority_10_mx"
    assert "hash:/etc/postfix/transport sends remote.test to smtp:[mx2.remote.test]" in item.detail
    assert "transport map" in item.hint and "postmap" in item.hint


def test_the_primary_left_stopped_is_named(lab07):
    lab07.reset("mx-priority")
    lab07.node("mx1", "stop")
    item = first_problem(lab07, "send-remote")
    assert item.name == "mail_to_remote_test_reaches_the_priority_10_mx"
    assert item.detail == "mx1 is stopped" and 'lab.node("mx1", "start")' in item.hint


def test_a_long_connect_timeout_fails(lab07):
    lab07.reset("mx-priority")
    sh(lab07, "postconf -e smtp_connect_timeout=2m && postfix reload")
    item = first_problem(lab07, "mx-priority")
    assert item.name == "smtp_gives_up_on_a_silent_host_quickly"
    assert "2m" in item.detail and "smtp_connect_timeout=5s" in item.hint


def test_a_timeout_set_but_not_reloaded_fails(lab07):
    lab07.reset("mx-priority")
    time.sleep(1.1)  # the edit must be in a later second than the boot's start of Postfix
    sh(lab07, "postconf -e smtp_connect_timeout=5s")
    item = first_problem(lab07, "mx-priority")
    assert item.name == "postfix_runs_with_the_saved_configuration"
    assert "/etc/postfix/main.cf" in item.detail and "postfix reload" in item.hint


def test_the_failover_check_leaves_a_silent_primary_silent(lab07):
    """A learner who unplugged mx1 still passes (Postfix waits 5 s for it), and mx1 stays unplugged."""
    lab07.reset("mx-priority")
    # The learner's own fix (not the reference solution, which the gradebook would note as used).
    sh(lab07, "postconf -e smtp_connect_timeout=5s && postfix reload")
    lab07.node("mx1", "unplug")
    result = lab07.check("mx-priority")
    assert result.status is Status.PASS, str(result)
    assert "timed out" in result.items[-1].detail and "mx2" in result.items[-1].detail
    assert lab07.node_states()["mx1"] == "unplugged"


# --- hunted wrong states (issue "every check proves the whole outcome") ----------------------

def test_resolver_step_with_a_relayhost_finds_no_mx(lab07):
    """Postfix delivers via a relay host: `sendmail -bv` says deliverable, but Postfix never looked up remote.test's MX."""
    lab07.reset("resolver")
    sh(lab07, "postconf -e 'relayhost=[mx2.remote.test]' && service postfix restart >/dev/null")
    item = first_problem(lab07, "resolver")
    assert item.name == "postfix_itself_finds_the_mx_host"
    assert "mx2.remote.test" in item.detail and "postconf -e relayhost=" in item.hint


def test_resolver_step_with_dns_lookups_turned_off(lab07):
    """A forum "fix" for Host not found: disable_dns_lookups makes Postfix skip DNS, so it finds no MX at all."""
    lab07.reset("resolver")
    sh(lab07, "postconf -e disable_dns_lookups=yes && service postfix restart >/dev/null")
    item = first_problem(lab07, "resolver")
    assert item.name == "postfix_itself_finds_the_mx_host"
    assert "disable_dns_lookups" in item.hint and "service postfix restart" not in item.hint


def test_resolver_step_with_the_old_dns_server_first(lab07):
    """The lab DNS is named, but after the old, unreachable one: every lookup waits for the dead server first."""
    lab07.reset("resolver")
    sh(lab07, "printf 'nameserver 10.0.0.53\\nnameserver 192.0.2.53\\n' > /etc/resolv.conf && service postfix restart >/dev/null")
    item = first_problem(lab07, "resolver")
    assert item.name == "the_machine_resolves_mx_records_through_the_lab_dns"
    assert "10.0.0.53" in item.detail and "nameserver 192.0.2.53" in item.hint


def test_a_relayhost_by_mx_lookup_reaches_mx1_for_every_domain(lab07):
    """relayhost=remote.test (no brackets) looks up remote.test's MX: mail for remote.test reaches mx1, but so would
    mail for every other domain."""
    lab07.reset("mx-priority")
    sh(lab07, "postconf -e relayhost=remote.test && postfix reload")
    item = first_problem(lab07, "send-remote")
    assert item.name == "mail_to_remote_test_reaches_the_priority_10_mx"
    assert "relayhost = remote.test" in item.detail and "postconf -e relayhost=" in item.hint


def test_mail_held_by_defer_transports(lab07):
    """A dial-up recipe: defer_transports=smtp keeps all outgoing mail in the queue."""
    lab07.reset("mx-priority")
    sh(lab07, "postconf -e defer_transports=smtp && postfix reload")
    item = first_problem(lab07, "send-remote")
    assert item.name == "mail_to_remote_test_reaches_the_priority_10_mx"
    assert "defer_transports" in item.hint


def test_remote_domain_taken_as_local(lab07):
    """remote.test added to mydestination: the mail never leaves the machine."""
    lab07.reset("mx-priority")
    sh(lab07, "postconf -e 'mydestination = $myhostname, localhost, remote.test' && postfix reload")
    item = first_problem(lab07, "send-remote")
    assert item.name == "mail_to_remote_test_reaches_the_priority_10_mx"
    assert "mydestination" in item.hint and "remote.test" in item.hint


def test_a_connect_timeout_of_zero_fails(lab07):
    """0 looks like "no waiting", but means no time limit of Postfix's own."""
    lab07.reset("mx-priority")
    sh(lab07, "postconf -e smtp_connect_timeout=0 && postfix reload")
    item = first_problem(lab07, "mx-priority")
    assert item.name == "smtp_gives_up_on_a_silent_host_quickly"
    assert "= 0" in item.detail and "smtp_connect_timeout=5s" in item.hint


def test_only_one_mx_address_tried(lab07):
    """A tuning line smtp_mx_address_limit=1: the timeout is right, but Postfix never tries mx2."""
    lab07.reset("mx-priority")
    sh(lab07, "postconf -e smtp_connect_timeout=5s smtp_mx_address_limit=1 && postfix reload")
    item = first_problem(lab07, "mx-priority")
    assert item.name == "with_mx1_down_mail_reaches_mx2"
    assert "smtp_mx_address_limit" in item.hint
    assert lab07.node_states()["mx1"] == "up"
