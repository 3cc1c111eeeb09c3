"""No packet leaves a lab network: kernel counters in every namespace of it (sandbox/hermetic.py)
see the lab's own traffic and nothing to anywhere else, even when root inside tries."""
import socket
import subprocess
from pathlib import Path

import pytest

from classroom.session import open_session
from sandbox import hermetic

pytestmark = pytest.mark.machine
NETLABS = Path(__file__).resolve().parent.parent / "fixtures" / "netlabs"
LEARNER = "pytest-hermetic"


@pytest.fixture(scope="module")
def world():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MAILLAB_LABS", str(NETLABS))
        mp.setenv("MAILLAB_LEARNER", LEARNER)
        session = open_session("mx-world", LEARNER, record=False)
        session.start()
        yield session
        session.stop()
        for machine in session.machines():
            machine.destroy()
        session.network().destroy()


def test_a_lab_with_mail_traffic_and_escape_attempts_sends_nothing_outside(world):
    with hermetic.watch() as seen:
        delivery = world.host().send_tagged("root@example.test", "user@remote.test", within=30)
        machine = world.machine()
        for outside in ("1.1.1.1", "10.0.0.1", "8.8.8.8"):
            assert machine.exec(["nc", "-z", "-w", "2", outside, "25"], timeout=10).returncode != 0
        # Root inside has no say over the lab network's namespace: no route, address or link changes.
        for script in ("ip route add default via 192.0.2.1", "ip addr add 10.1.1.1/8 dev eth0",
                       "ip link set eth0 down", "ip link add x0 type dummy"):
            assert machine.exec(["sh", "-c", script], timeout=10).returncode != 0, script
    assert delivery.delivered, delivery.summary()
    assert seen.escaped == 0 and not seen.host_veths, seen.summary()
    assert seen.lab > 0, seen.summary()  # the counters did see the lab's traffic


def test_the_counters_catch_a_packet_sent_outside(world):
    """Can the proof fail? A route out made by hand (to a veth pair whose both ends stay in the lab's namespace)
    lets one datagram go: it is counted as escaped, and dropped."""
    netns = world.network().netns_name("mail")
    ip = ["ip", "-n", netns]
    subprocess.run([*ip, "link", "add", "leak0", "type", "veth", "peer", "name", "leak1"], check=True)
    try:
        subprocess.run([*ip, "link", "set", "leak0", "up"], check=True)
        subprocess.run([*ip, "route", "add", "1.1.1.1/32", "dev", "leak0"], check=True)
        with hermetic.watch() as seen:
            udp = world.network().socket("mail", socket.AF_INET, socket.SOCK_DGRAM)
            try:
                udp.sendto(b"leak", ("1.1.1.1", 53))
            except PermissionError:
                pass  # the guard dropped it on its way out (and counted it)
            finally:
                udp.close()
        assert seen.escaped >= 1 and seen.by_netns[netns][0] >= 1, seen.summary()
    finally:
        subprocess.run([*ip, "link", "del", "leak0"], check=False)


def test_counts_survive_a_network_going_down(world):
    """A network removed during a watched run still has its counts in the total (for whole-course runs)."""
    with hermetic.watch() as seen:
        world.host().send_tagged("root@example.test", "user@remote.test", within=30)
        world.stop()
        world.start()
    assert seen.lab > 0 and seen.escaped == 0, seen.summary()
