"""Lab 07 on real machines and a real lab network: wrong states a learner really gets into FAIL
with the right hint, and the checks leave the network as they found it."""
import time

import pytest

from grader.result import Status

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine


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
