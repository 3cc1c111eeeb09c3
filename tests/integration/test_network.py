"""The lab network with real Postfix in learner machines, real dnsmasq and real aiosmtpd servers:
MX preference and failover (refused and silent), a backup MX that queues and hands over, the
outside client's view, hermetic namespaces, two learners side by side, and clean teardown."""
import subprocess
import time
from pathlib import Path

import pytest

from classroom.session import open_session
from sandbox import cgroups, paths
from sandbox.network import NETNS_DIR, Network

from .conftest import LEARNER, maillab

pytestmark = pytest.mark.machine
NETLABS = Path(__file__).resolve().parent.parent / "fixtures" / "netlabs"
OTHER = "pytest-b"


@pytest.fixture(scope="module", autouse=True)
def _fixture_labs():
    """These tests use the labs under tests/fixtures/netlabs; afterwards the test learner's current
    lab is what it was (other tests enter it with `maillab shell`)."""
    state = paths.home() / "learners" / f"{LEARNER}.json"
    before = state.read_bytes() if state.exists() else None
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MAILLAB_LABS", str(NETLABS))
        yield
    if before is None:
        state.unlink(missing_ok=True)
    else:
        state.write_bytes(before)


def _remove(session):
    session.stop()
    for machine in session.machines():
        machine.destroy()
    network = session.network()
    if network is not None:
        network.destroy()


@pytest.fixture(scope="module")
def world():
    """mx-world started once: the learner's mail server, lab DNS, mx1 (10) and mx2 (20) for remote.test."""
    session = open_session("mx-world", LEARNER, record=False)
    session.start()
    session.solve("fast-failover")  # smtp_connect_timeout = 5s
    yield session
    _remove(session)


@pytest.fixture
def fresh_world(world):
    """Every server running and plugged in, whatever a test did."""
    network = world.network()
    yield world
    for node in ("mx1", "mx2"):
        network.plug(node)
        network.start_node(node)


def _send_remote(session, within=20):
    host = session.host()
    log = host.maillog()
    mark = log.mark()
    delivery = host.send_tagged("root@example.test", "user@remote.test", within=within)
    # Postfix logs failed connections without a queue id: keep every new line.
    delivery.lines = [line.raw for line in log.lines(mark)]
    return delivery, host.world.trace(delivery)


def test_mail_to_a_remote_domain_reaches_its_priority_10_server(fresh_world):
    delivery, hops = _send_remote(fresh_world)
    assert delivery.delivered, delivery.summary()
    assert [(h.where, h.status) for h in hops] == [("mail", "sent"), ("mx1", "stored")]
    assert "mx1.remote.test[198.51.100.10]:25" in hops[0].relay
    server, message = fresh_world.host().world.find_received(message_id=delivery.message_id)
    assert server == "mx1"
    assert message.client_address == "192.0.2.10"
    assert message.helo == "mail.example.test"
    assert message.mail_from == "root@example.test" and message.rcpt_tos == ["user@remote.test"]
    assert message.queue_id == hops[1].queue_id


def test_with_the_primary_stopped_the_priority_20_server_gets_it_at_once(fresh_world):
    assert fresh_world.node("mx1", "stop") == "mx1 is stopped: connections to it are refused."
    assert fresh_world.node_states()["mx1"] == "stopped"
    delivery, hops = _send_remote(fresh_world)
    assert [h.where for h in hops] == ["mail", "mx2"], delivery.summary()
    refused = [line for line in delivery.lines if "198.51.100.10" in line]
    assert refused and "Connection refused" in refused[0]
    # Refused is fast: Postfix moved on without waiting for its 5 s connect timeout.
    assert delivery.waited < 5


def test_with_the_primary_unplugged_the_backup_gets_it_after_the_connect_timeout(fresh_world):
    fresh_world.node("mx1", "unplug")
    assert fresh_world.node_states()["mx1"] == "unplugged"
    delivery, hops = _send_remote(fresh_world, within=30)
    assert [h.where for h in hops] == ["mail", "mx2"], delivery.summary()
    silent = [line for line in delivery.lines if "198.51.100.10" in line]
    assert silent and "Connection timed out" in silent[0]
    assert delivery.waited >= 4.5  # a silent host costs the whole smtp_connect_timeout (5 s)


def test_the_mail_flow_picture_of_a_remote_delivery_names_its_hops(fresh_world):
    from grader.mailflow import journey_html, trace

    delivery, _ = _send_remote(fresh_world)
    journey = trace([("mail", fresh_world.host().maillog().text())], delivery.message_id)
    assert journey.stage_names() == ["sendmail", "pickup", "cleanup", "qmgr", "smtp", "remote MX"]
    last = journey.first.deliveries[0].destination
    assert last.host == "mx1.remote.test" and last.status == "sent"
    assert "mx1.remote.test" in journey_html(journey)


def test_the_lab_check_follows_its_message_to_the_primary(fresh_world):
    result = fresh_world.check("fast-failover")
    assert result.status.value == "PASS", str(result)
    assert "mx1 (" in result.items[-1].detail and "stored" in result.items[-1].detail


def test_the_lab_check_fails_on_a_fresh_machine_with_its_hint(world):
    world.reset()  # the lab's start: Postfix still waits 30 s for a silent host
    try:
        result = world.check("fast-failover")
        assert result.status.value == "FAIL", str(result)
        assert result.first_problem.name == "smtp_gives_up_on_a_silent_host_quickly"
        assert "smtp_connect_timeout=5s" in result.first_problem.hint
    finally:
        world.solve("fast-failover")


def test_dns_answers_the_lab_records_and_nothing_else(world):
    host = world.host()
    assert host.world.resolve_mx("remote.test") == [(10, "mx1.remote.test"), (20, "mx2.remote.test")]
    assert host.world.resolve_a("mx2.remote.test") == ["198.51.100.20"]
    assert host.world.resolve_mx("gmail.com") == []
    assert sorted(host.run("dig", "+short", "MX", "remote.test").out.splitlines()) == [
        "10 mx1.remote.test.", "20 mx2.remote.test."]
    assert host.run("getent", "ahostsv4", "mx1.remote.test").out.split()[0] == "198.51.100.10"
    assert host.run("getent", "ahostsv4", "www.debian.org").returncode != 0
    assert "status: REFUSED" in host.run("dig", "www.debian.org").out
    assert "status: NXDOMAIN" in host.run("dig", "nobody.example.test").out
    assert host.run("dig", "+short", "-x", "192.0.2.10").out.strip() == "mail.example.test."


def test_the_outside_client_sees_banner_ehlo_and_rcpt_answers(world):
    talk = world.host().world.converse("192.0.2.10", mail_from="someone@client.example",
                                       rcpts=["root@example.test", "user@remote.test"])
    assert talk.connected, talk.describe()
    assert "mail.example.test" in talk.banner.text and talk.ehlo.ok
    replies = [r.code for r in talk.rcpt.values()]
    assert replies[0] == 250  # local delivery accepted
    assert replies[1] in (454, 554)  # relaying for the Internet refused


def test_no_packet_leaves_the_lab_network(world):
    network = world.network()
    names = [n.name for n in world.lab.network.nodes]
    # No namespace of the lab has a default route, and the hub has only the bridge and the lab's ports.
    for node in ["hub", *names]:
        routes = subprocess.run(["ip", "-n", network.netns_name(node), "route"], capture_output=True, text=True).stdout
        assert "default" not in routes, (node, routes)
    hub_links = subprocess.run(["ip", "-n", network.netns_name("hub"), "-o", "link"], capture_output=True,
                               text=True).stdout
    assert sorted(line.split(":")[1].strip().split("@")[0] for line in hub_links.splitlines()) == \
        sorted(["lo", "br0", *(f"p{i}" for i in range(len(names)))])
    # Addresses outside the lab: refused by the machine's kernel before any packet is sent.
    host = world.host()
    before = _tx_packets(network, "mail")
    for outside in ("1.1.1.1", "10.0.0.1", "192.168.1.1"):
        done = host.run("nc", "-vz", "-w", "2", outside, "25")
        assert done.returncode != 0
        assert "unreachable" in (done.err + done.out).lower(), done
    assert _tx_packets(network, "mail") == before


def _tx_packets(network, node) -> int:
    out = subprocess.run(["ip", "-n", network.netns_name(node), "-s", "-j", "link", "show", "eth0"],
                         capture_output=True, text=True).stdout
    import json

    return json.loads(out)[0]["stats64"]["tx"]["packets"]


def test_two_learners_networks_run_side_by_side_unseen(world):
    other = open_session("mx-world", OTHER, record=False)
    try:
        other.start()
        assert other.network().netns("mx1") != world.network().netns("mx1")
        mine_before = len(world.host().world.received("mx1"))
        delivery = other.host().send_tagged("root@example.test", "user@remote.test", within=20)
        assert delivery.delivered, delivery.summary()
        assert other.host().world.find_received(message_id=delivery.message_id)[0] == "mx1"
        assert world.host().world.find_received(message_id=delivery.message_id) is None
        assert len(world.host().world.received("mx1")) == mine_before
    finally:
        _remove(other)
    assert not [p for p in NETNS_DIR.iterdir() if f"--{OTHER}--" in p.name]


def test_a_backup_mx_queues_while_the_primary_is_down_and_hands_over_when_it_is_back():
    session = open_session("backup-world", LEARNER, record=False)
    try:
        session.start()
        mail1, mail2 = session.host("mail1"), session.host("mail2")
        mail1.run("/bin/sh", "-c", "postconf -e myhostname=mail1.example.test 'mydestination=$myhostname, example.test, "
                        "localhost' && postfix reload")
        mail2.run("/bin/sh", "-c", "postconf -e myhostname=mail2.example.test 'mydestination=$myhostname, localhost' "
                        "relay_domains=example.test smtp_connect_timeout=5s && postfix reload")
        world = mail1.world
        first = world.send_via_mx("example.test", mail_from="friend@client.example",
                                        rcpts=["root@example.test"], data=_message("first"))
        assert first.delivered_by == "192.0.2.10", first.describe()

        session.node("mail1", "stop")
        second = world.send_via_mx("example.test", mail_from="friend@client.example",
                                         rcpts=["root@example.test"], data=_message("second"))
        assert second.delivered_by == "192.0.2.20", second.describe()  # mail1 refused; the backup took it
        assert second.attempts[0].error == "connection refused"
        assert _wait(lambda: any(q.queue_name == "deferred" for q in mail2.queue()))

        session.node("mail1", "start")
        mail2.run("postqueue", "-f")
        assert _wait(lambda: "Subject: second" in mail1.file("/var/mail/root").text)
        assert not mail2.queue()
        assert "Subject: first" in mail1.file("/var/mail/root").text
        # The picture follows the message from the backup to the primary, by queue id.
        from grader.mailflow import trace

        journey = trace([("mail2", mail2.maillog().text()), ("mail1", mail1.maillog().text())], "second@client.example")
        assert [hop.host for hop in journey.hops()] == ["mail2", "mail1"]
        assert journey.stage_names()[-2:] == ["local", "mailbox"]
    finally:
        _remove(session)


def _message(subject):
    return (f"From: friend@client.example\r\nTo: root@example.test\r\nSubject: {subject}\r\n"
            f"Message-Id: <{subject}@client.example>\r\n\r\nhello\r\n")


def _wait(condition, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_down_leaves_nothing_behind_and_start_brings_it_back(world):
    network = world.network()
    world.stop()
    assert not [p for p in NETNS_DIR.iterdir() if p.name.startswith(network.netns_name(""))]
    assert not cgroups.pids(network.cgroup) and not any(d.exists() for d in cgroups._dirs(network.cgroup))
    assert all(not m.running() for m in world.machines())
    mounts = Path("/proc/self/mountinfo").read_text()
    assert network.netns_name("") not in mounts and not any(str(m.root) in mounts for m in world.machines())
    assert "networks" in str(network.dir) and network.spool("mx1").is_dir()  # what servers received is kept
    world.start()
    assert world.started() and world.node_states() == {n.name: "up" for n in world.lab.network.nodes}


def test_a_network_that_fails_to_start_leaves_nothing_behind():
    lab_spec = open_session("mx-world", LEARNER).lab.network
    broken = type(lab_spec).from_dict({**__import__("dataclasses").asdict(lab_spec)})
    broken.node("mx2").server["mode"] = "no-such-mode"  # the server refuses its config and exits
    with pytest.raises(Exception) as caught:
        Network.create("pytest-broken", broken)
    assert "mx2" in str(caught.value)
    assert not [p for p in NETNS_DIR.iterdir() if "--pytest-broken--" in p.name]
    assert not (paths.home() / "networks" / "pytest-broken").exists()
    assert not cgroups.pids("net--pytest-broken")


def test_node_commands_from_the_command_line(world):
    listed = maillab("node", "list", "--lab", "mx-world")
    assert listed.returncode == 0, listed.stderr
    assert "mx1" in listed.stdout and "198.51.100.10" in listed.stdout
    unknown = maillab("node", "stop", "mx9", "--lab", "mx-world")
    assert unknown.returncode == 2 and "no node called 'mx9'" in unknown.stderr and "mx1" in unknown.stderr
    client = maillab("node", "stop", "client", "--lab", "mx-world")
    assert client.returncode == 2 and "unplugged" in client.stderr
    done = maillab("node", "unplug", "mx2", "--lab", "mx-world")
    assert done.returncode == 0 and "silent" in done.stdout
    assert maillab("node", "plug", "mx2", "--lab", "mx-world").returncode == 0
    alone = maillab("node", "list", "--lab", "install-postfix")
    assert alone.returncode == 2 and "no lab network" in alone.stderr


def test_a_starting_state_of_a_networked_lab_is_prepared_in_a_network_of_its_own():
    from classroom import layers

    lab = open_session("mx-world", LEARNER).lab
    state = layers.state_at(lab, 1, "mail")  # after fast-failover: built once, cached
    layer = Path(state.lowers[0]).parent
    assert "smtp_connect_timeout = 5s" in (layer / "fs" / "etc" / "postfix" / "main.cf").read_text()
    assert "postfix" in state.services
    assert not [p for p in NETNS_DIR.iterdir() if "--layer-" in p.name]
    assert not [d for d in (paths.home() / "networks").iterdir() if d.name.startswith("layer-")]


@pytest.fixture(scope="module")
def modes():
    session = open_session("modes-world", LEARNER, record=False)
    session.start()
    yield session
    _remove(session)


def test_a_greylisting_server_defers_first_then_accepts_the_retry(modes):
    host = modes.host()
    # Deferred is not final, so the wait runs out: keep it short.
    delivery = host.send_tagged("root@example.test", "user@grey.test", within=2)
    assert delivery.status("user@grey.test") == "deferred", delivery.summary()
    assert "450 4.7.1" in delivery.result_for("user@grey.test").reason
    time.sleep(1.2)
    host.run("postqueue", "-f")
    assert _wait(lambda: host.world.find_received(message_id=delivery.message_id) is not None)
    assert host.world.find_received(message_id=delivery.message_id)[0] == "grey"


def test_a_server_rejects_an_unknown_recipient_and_postfix_bounces(modes):
    delivery = modes.host().send_tagged("root@example.test", "nobody@picky.test", within=10)
    assert delivery.status("nobody@picky.test") == "bounced", delivery.summary()
    assert "550 5.1.1" in delivery.summary() and "User unknown" in delivery.summary()
    assert modes.host().world.received("picky") == []


def test_a_capture_server_records_exactly_what_crossed_the_wire(modes):
    delivery = modes.host().send_tagged("root@example.test", "user@capture.test", within=10)
    assert delivery.delivered, delivery.summary()
    _, message = modes.host().world.find_received(message_id=delivery.message_id)
    said = [line for side, line in message.transcript if side == "client"]
    assert said[0].strip() == "EHLO mail.example.test"
    assert any(line.startswith("MAIL FROM:<root@example.test>") for line in said)
    assert any(line.strip() == "RCPT TO:<user@capture.test>" for line in said)
    assert any(line.startswith("Message-Id: <" + delivery.message_id) for line in said)
    assert said[-1].strip() == "."  # the message is stored when its data ends


def test_a_notebook_cell_can_unplug_and_stop_nodes(world, monkeypatch):
    from classroom.notebook import notebook_lab
    from classroom.notebook.notebook_lab import LabNotReady, NotebookLab

    shown = []
    monkeypatch.setattr(notebook_lab, "display", lambda obj: shown.append(obj.data))
    lab = NotebookLab(world)
    lab.node("mx2", "unplug")
    assert world.node_states()["mx2"] == "unplugged"
    lab.node("mx2", "plug")
    lab.nodes()
    assert "mx2 is plugged in again" in shown[1] and "unplugged" not in shown[2] and "198.51.100.20" in shown[2]
    assert world.node_states()["mx2"] == "up"
    with pytest.raises(LabNotReady) as caught:
        lab.node("mx9", "stop")
    assert "no node called 'mx9'" in str(caught.value)


def test_a_flood_of_dns_queries_leaves_a_capped_query_log(monkeypatch):
    """Does dnsmasq's query log grow without bound when a learner floods the lab's DNS?"""
    import sandbox.network as network_module

    monkeypatch.setattr(network_module, "NODE_FILE_LIMIT", 64 * 1024)
    session = open_session("mx-world", "pytest-dnsflood", record=False)
    try:
        session.start()
        host = session.host()
        flood = ("for i in $(seq 40); do dig +tries=1 +time=1 @$(awk '/nameserver/{print $2; exit}' /etc/resolv.conf) "
                 "-f <(for n in $(seq 50); do echo name$i-$n.example.test A; done) >/dev/null; done")
        host.run("bash", "-c", flood, timeout=60)
        network = session.network()
        dns = next(n.name for n in network.spec.nodes if n.kind == "dns")
        log = network.node_dir(dns) / "queries.log"
        assert 48 * 1024 < log.stat().st_size <= 64 * 1024  # the flood reached the cap, and stopped there
        # ... and DNS still answers.
        assert host.world.resolve_mx("remote.test") == [(10, "mx1.remote.test"), (20, "mx2.remote.test")]
    finally:
        _remove(session)
