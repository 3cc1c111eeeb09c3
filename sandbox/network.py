"""A lab network: a hub with a bridge and, around it, one network namespace per node.

Nodes are the learner's machines (a Machine joins the namespace made for it), a DNS server
(dnsmasq), remote mail servers (sandbox.mailserver, one process each) and outside clients
(namespaces the grader connects from). The hub routes between the lab's subnets and has no link
to anything else: there is no default route anywhere, so nothing can leave. Every learner's network
uses the same addresses, side by side, without seeing each other.

On the host a network is a folder under networks/NAME: `network.json` (the spec), and per node
`nodes/NODE/` (config, log, pid, a mail server's spool). Its namespaces are named
`<tag>--NAME--NODE` (see `ip netns list`).
"""
from __future__ import annotations

import ctypes
import ipaddress
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from . import cgroups, hermetic, paths, procs
from .errors import SandboxError, _

LAB_RANGES = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
KINDS = ("machine", "dns", "server", "client")
HUB = "hub"  # the name of the hub's namespace; no node may take it
HUB_MAC = "02:00:00:00:00:01"
NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
# A server node is a Python process (aiosmtpd, dnsmasq's wrapper): 0.2 s when the host is quiet, but
# seconds when two cores serve a dozen labs at once (the selftest, a room). A bound for a broken node only.
START_TIMEOUT = 20.0
# The largest file a node may write: its log, dnsmasq's query log, one stored message (<= 10 MiB).
NODE_FILE_LIMIT = 16 * 2**20


@dataclass
class Node:
    name: str
    kind: str  # one of KINDS
    address: str
    hostname: str = ""  # its fully qualified name
    server: dict = field(default_factory=dict)  # a mail server's settings: domains, mode, reject, greylist_seconds, dns


@dataclass
class NetworkSpec:
    nodes: list[Node]
    zones: list[str] = field(default_factory=list)  # DNS zones the lab's DNS server answers for
    hosts: list[list[str]] = field(default_factory=list)  # extra [name, address] A + PTR records
    mx: list[list] = field(default_factory=list)  # [domain, host, preference]
    txt: list[list[str]] = field(default_factory=list)  # [name, text] TXT records
    answers: list[list[str]] = field(default_factory=list)  # [name, address] A records without a PTR (block lists)
    forward: list[list[str]] = field(default_factory=list)  # [zone, address]: asked of a machine's own DNS server

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        known = ", ".join(n.name for n in self.nodes)
        raise SandboxError(_("The lab network has no node called {name!r}. Its nodes are: {known}.",
                             name=name, known=known))

    def dns_address(self) -> str | None:
        return next((n.address for n in self.nodes if n.kind == "dns"), None)

    @classmethod
    def from_dict(cls, data: dict) -> "NetworkSpec":
        return cls(**{**data, "nodes": [Node(**n) for n in data["nodes"]]})


def validate(spec: NetworkSpec) -> None:
    """Refuse a spec that cannot be built, before anything is made."""
    seen_names, seen_addresses = set(), set()
    for node in spec.nodes:
        if node.name == HUB or not node.name or not node.name.replace("-", "").isalnum():
            raise SandboxError(_("{node!r} cannot name a node (letters, digits and dashes; not {hub!r}).",
                                 node=node.name, hub=HUB))
        if node.kind not in KINDS:
            raise SandboxError(_("Node {node} has an unknown kind {kind!r}.", node=node.name, kind=node.kind))
        if node.name in seen_names:
            raise SandboxError(_("Two nodes are called {node}.", node=node.name))
        check_address(node.address, f"node {node.name}")
        if node.address in seen_addresses:
            raise SandboxError(_("Two nodes have the address {address}.", address=node.address))
        seen_names.add(node.name)
        seen_addresses.add(node.address)
    if sum(n.kind == "dns" for n in spec.nodes) > 1:
        raise SandboxError(_("A lab network has at most one DNS server."))


def check_address(address: str, what: str) -> None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise SandboxError(_("The address of {what}, {address!r}, is not an IPv4 address.",
                             what=what, address=address)) from None
    if not any(ip in net for net in LAB_RANGES) or int(ip) & 0xFF in (0, 1, 255):
        ranges = ", ".join(str(n) for n in LAB_RANGES)
        raise SandboxError(_("The address of {what}, {address}, is outside the lab ranges ({ranges}; host numbers"
                             " 2-254, .1 is the hub).", what=what, address=address, ranges=ranges))


def _subnet(address: str) -> ipaddress.IPv4Network:
    return ipaddress.ip_network(f"{address}/24", strict=False)


def _gateway(address: str) -> str:
    return str(_subnet(address).network_address + 1)


def _mac(address: str) -> str:
    """Fixed MAC addresses, so every node knows every neighbour without asking (an unplugged node is
    then silent: packets for it vanish, as on the Internet, instead of failing fast)."""
    return "02:00:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(address).packed)


class Network:
    def __init__(self, name: str):
        if not name or "/" in name or name.startswith("."):
            raise SandboxError(_("{name!r} is not a valid network name.", name=name))
        self.name = name
        self.dir = paths.home() / "networks" / name
        self._children: dict[str, subprocess.Popen] = {}  # processes this object started, until ready

    # -- where things are ------------------------------------------------------------------
    @property
    def spec(self) -> NetworkSpec:
        try:
            return NetworkSpec.from_dict(json.loads((self.dir / "network.json").read_text()))
        except FileNotFoundError:
            raise SandboxError(_("There is no lab network called {name}: start the lab first.",
                                 name=self.name)) from None

    def exists(self) -> bool:
        return (self.dir / "network.json").is_file()

    def netns_name(self, node: str) -> str:
        return f"{paths.host_tag()}--{self.name}--{node}"

    def netns(self, node: str) -> str:
        """The file of a node's network namespace (what `nsenter --net=` and Machine join)."""
        return str(NETNS_DIR / self.netns_name(node))

    def node_dir(self, node: str) -> Path:
        return self.dir / "nodes" / node

    def spool(self, node: str) -> Path:
        """Where a mail server keeps what it received."""
        return self.node_dir(node) / "spool"

    @property
    def cgroup(self) -> str:
        return f"net--{self.name}"

    def is_up(self) -> bool:
        return os.path.exists(self.netns(HUB))

    # -- life cycle ------------------------------------------------------------------------
    @classmethod
    def create(cls, name: str, spec: NetworkSpec) -> "Network":
        """A new network from `spec`, up (an old network of that name, and what it stored, is removed)."""
        validate(spec)
        network = cls(name)
        network.destroy()
        network.dir.mkdir(parents=True)
        (network.dir / "network.json").write_text(json.dumps(asdict(spec), indent=2))
        try:
            network.up()
        except BaseException:
            network.destroy()  # nothing half-made stays behind
            raise
        return network

    def up(self) -> None:
        """Bring the network up from its folder (idempotent; what servers received is kept)."""
        spec = self.spec
        if not self.is_up():
            self._plumb(spec)
        cgroups.create(self.cgroup, memory_bytes=256 * 2**20 * (1 + len(spec.nodes)), pids=256)
        starting = [node for node in spec.nodes if node.kind in ("dns", "server") and not self._pid(node.name)]
        for node in starting:
            self._launch(spec, node)
        for node in starting:
            self._wait_ready(node)

    def down(self) -> None:
        """End every process of the network and remove its namespaces; its files stay.

        Machines living in its namespaces must be stopped first."""
        procs.kill_and_wait([p for p in (self._pid(n) for n in self._node_names()) if p])
        procs.kill_and_wait(cgroups.pids(self.cgroup) - {os.getpid()})
        cgroups.remove(self.cgroup)
        for netns in self._namespaces():
            hermetic.record_final(netns, str(NETNS_DIR / netns))
            _ip("netns", "del", netns, check=False)
        for node in self._node_names():
            (self.node_dir(node) / "pid").unlink(missing_ok=True)

    def destroy(self) -> None:
        self.down()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _node_names(self) -> list[str]:
        try:
            return [n.name for n in self.spec.nodes]
        except (SandboxError, ValueError, TypeError, KeyError):
            base = self.dir / "nodes"
            return [d.name for d in base.iterdir()] if base.is_dir() else []

    def _namespaces(self) -> list[str]:
        prefix = f"{paths.host_tag()}--{self.name}--"
        if not NETNS_DIR.is_dir():
            return []
        return [p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix)
                and "--" not in p.name[len(prefix):]]

    # -- plumbing ----------------------------------------------------------------------------
    def _plumb(self, spec: NetworkSpec) -> None:
        hub = self.netns_name(HUB)
        made = [f"netns add {self.netns_name(n)}" for n in [HUB, *(x.name for x in spec.nodes)]]
        # Each veth pair goes straight from nothing into its two namespaces: the host never holds one.
        made += [f"link add p{i} netns {hub} type veth peer name eth0 netns {self.netns_name(n.name)}"
                 for i, n in enumerate(spec.nodes)]
        _ip_batch(None, made)
        subnets = sorted({str(_subnet(n.address)) for n in spec.nodes})
        hub_cmds = ["link set lo up", "link add br0 type bridge", f"link set br0 address {HUB_MAC}",
                    *(f"addr add {_gateway(s.split('/')[0])}/24 dev br0" for s in subnets),
                    "link set br0 up"]
        for i, n in enumerate(spec.nodes):
            hub_cmds += [f"link set p{i} master br0", f"link set p{i} up",
                         f"neigh replace {n.address} lladdr {_mac(n.address)} dev br0 nud permanent"]
        _ip_batch(hub, hub_cmds)
        _in_netns(self.netns(HUB), lambda: _sysctls({"net/ipv4/ip_forward": "1", **_NO_IPV6}))
        for n in spec.nodes:
            gateway = _gateway(n.address)
            cmds = ["link set lo up", f"link set eth0 address {_mac(n.address)}",
                    f"addr add {n.address}/24 dev eth0", "link set eth0 up",
                    f"neigh replace {gateway} lladdr {HUB_MAC} dev eth0 nud permanent"]
            cmds += [f"neigh replace {o.address} lladdr {_mac(o.address)} dev eth0 nud permanent"
                     for o in spec.nodes if o is not n and _subnet(o.address) == _subnet(n.address)]
            # Routes to the other lab subnets only: no default route, so nothing else is reachable.
            cmds += [f"route add {s} via {gateway}" for s in subnets if s != str(_subnet(n.address))]
            _ip_batch(self.netns_name(n.name), cmds)
            _in_netns(self.netns(n.name), lambda: _sysctls(_NO_IPV6))
        # Count (and drop) anything sent to an address outside the lab: see hermetic.py.
        for node in [HUB, *(x.name for x in spec.nodes)]:
            hermetic.install(self.netns(node))

    # -- the processes of DNS and mail server nodes ----------------------------------------------
    def _pid(self, node: str) -> int | None:
        return procs.recall(self.node_dir(node) / "pid")

    def _launch(self, spec: NetworkSpec, node: Node) -> None:
        where = self.node_dir(node.name)
        where.mkdir(parents=True, exist_ok=True)
        (where / "ready").unlink(missing_ok=True)
        if node.kind == "dns":
            (where / "dnsmasq.conf").write_text(dnsmasq_conf(spec, node, where))
            argv = ["dnsmasq", "--keep-in-foreground", f"--conf-file={where / 'dnsmasq.conf'}"]
        else:
            (where / "spool").mkdir(exist_ok=True)
            config = {"name": node.name, "hostname": node.hostname, "listen": [node.address, 25],
                      "spool": str(where / "spool"), "ready": str(where / "ready"), **node.server}
            (where / "server.json").write_text(json.dumps(config, indent=2))
            argv = [sys.executable, "-m", "sandbox.mailserver", str(where / "server.json")]
        limit = NODE_FILE_LIMIT

        def fenced() -> None:
            cgroups.join(self.cgroup)
            # No file a node writes (its log, dnsmasq's query log, one stored message) grows past the
            # limit: a write beyond it fails (EFBIG) instead of filling the server's disk.
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

        with open(where / "log", "ab") as log:
            proc = subprocess.Popen(["nsenter", f"--net={self.netns(node.name)}", "--", *argv],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                    cwd=str(Path(__file__).resolve().parent.parent), preexec_fn=fenced)
        procs.remember(where / "pid", proc.pid)
        self._children[node.name] = proc

    def _wait_ready(self, node: Node) -> None:
        ready = self.node_dir(node.name) / "ready"
        proc = self._children.pop(node.name, None)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if ready.exists():
                return
            if proc is not None and proc.poll() is not None:
                tail = (self.node_dir(node.name) / "log").read_text(errors="replace").strip().splitlines()
                raise SandboxError(_("The {kind} node {node} stopped at once: {detail}",
                                     kind=node.kind, node=node.name, detail=tail[-1] if tail else 'no output'))
            time.sleep(0.003)
        raise SandboxError(_("The {kind} node {node} did not start within {seconds:g} s.",
                             kind=node.kind, node=node.name, seconds=START_TIMEOUT))

    # -- faults on demand ------------------------------------------------------------------------
    def stop_node(self, name: str) -> None:
        """End a server node's process: connections to it are refused."""
        node = self._service_node(name)
        pid = self._pid(node.name)
        if pid:
            procs.kill_and_wait([pid])
        (self.node_dir(node.name) / "pid").unlink(missing_ok=True)

    def start_node(self, name: str) -> None:
        spec = self.spec
        node = self._service_node(name)
        if not self._pid(node.name):
            self._launch(spec, node)
            self._wait_ready(node)

    def unplug(self, name: str) -> None:
        """Pull a node's cable: it goes silent (packets to it vanish; it hears nothing)."""
        self._set_link(name, "down")

    def plug(self, name: str) -> None:
        self._set_link(name, "up")

    def _set_link(self, name: str, state: str) -> None:
        spec = self.spec
        index = spec.nodes.index(spec.node(name))
        self._require_up()
        _ip_batch(self.netns_name(HUB), [f"link set p{index} {state}"])

    def node_states(self) -> dict[str, str]:
        """Each node's state in a word: running, stopped, unplugged (what `maillab node` shows)."""
        spec = self.spec
        links = _links(self.netns_name(HUB)) if self.is_up() else {}
        states = {}
        for i, node in enumerate(spec.nodes):
            if not self.is_up():
                states[node.name] = "down"
            elif links.get(f"p{i}") == "down":
                states[node.name] = "unplugged"
            elif node.kind in ("dns", "server") and not self._pid(node.name):
                states[node.name] = "stopped"
            else:
                states[node.name] = "up"
        return states

    def _service_node(self, name: str) -> Node:
        node = self.spec.node(name)
        if node.kind not in ("dns", "server"):
            raise SandboxError(_("{name} is a {kind}, not a server: it can be unplugged and plugged in, but not "
                                 "stopped here.", name=name, kind=node.kind))
        self._require_up()
        return node

    def _require_up(self) -> None:
        if not self.is_up():
            raise SandboxError(_("The lab network {name} is not up: start the lab first.", name=self.name))

    # -- talking from inside --------------------------------------------------------------------
    def socket(self, node: str, family: int = 2, kind: int = 1):
        """A new socket that lives in a node's namespace (for probes from the outside client)."""
        import socket as sockets

        self._require_up()
        return _in_netns(self.netns(node), lambda: sockets.socket(family, kind))

    def connect(self, node: str, host: str, port: int, timeout: float = 10.0):
        """A TCP connection from a node to host:port, made inside the lab network."""
        sock = self.socket(node)
        sock.settimeout(timeout)
        try:
            sock.connect((host, port))
        except BaseException:
            sock.close()
            raise
        return sock


_NO_IPV6 = {"net/ipv6/conf/all/disable_ipv6": "1", "net/ipv6/conf/default/disable_ipv6": "1"}


def dnsmasq_conf(spec: NetworkSpec, node: Node, where: Path) -> str:
    """dnsmasq for the lab: answers for the lab's zones from the spec alone, refuses anything else."""
    lines = ["no-resolv", "no-hosts", "no-poll", "bind-interfaces", f"listen-address={node.address}",
             f"pid-file={where / 'ready'}", f"log-facility={where / 'queries.log'}",
             "log-queries", "local-ttl=5", "no-negcache"]
    lines += [f"local=/{zone}/" for zone in spec.zones]
    # A delegated zone: what the lab holds for it (host names, MX) is answered here, the rest
    # (its TXT records: SPF, DKIM, DMARC) is asked of the DNS server on the learner's machine.
    lines += [f"server=/{zone}/{address}" for zone, address in spec.forward]
    for n in spec.nodes:
        if n.hostname:
            lines.append(f"host-record={n.hostname},{n.address}")
    lines += [f"host-record={name},{address}" for name, address in spec.hosts]
    lines += [f"mx-host={domain},{host},{preference}" for domain, host, preference in spec.mx]
    lines += [f"address=/{name}/{address}" for name, address in spec.answers]
    lines += [f'txt-record={name},"{text}"' for name, text in spec.txt]
    return "\n".join(lines) + "\n"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SandboxError(_("Could not set up the lab network (ip {command}): {error}",
                             command=' '.join(args), error=done.stderr.strip()))
    return done


def _ip_batch(netns: str | None, commands: list[str]) -> None:
    argv = ["ip", *(["-n", netns] if netns else []), "-batch", "-"]
    done = subprocess.run(argv, input="\n".join(commands) + "\n", capture_output=True, text=True)
    if done.returncode != 0:
        raise SandboxError(_("Could not set up the lab network: {error}", error=done.stderr.strip()))


def _links(netns: str) -> dict[str, str]:
    done = subprocess.run(["ip", "-n", netns, "-j", "link", "show"], capture_output=True, text=True)
    try:
        return {link["ifname"]: ("up" if "UP" in link.get("flags", []) else "down") for link in json.loads(done.stdout)}
    except ValueError:
        return {}


def _sysctls(values: dict[str, str]) -> None:
    for key, value in values.items():
        Path("/proc/sys", key).write_text(value)


_libc = ctypes.CDLL(None, use_errno=True)


def _in_netns(path: str, fn: Callable):
    """Run fn in a thread that has entered a network namespace (the caller's threads stay where
    they are); sockets made there keep living in that namespace."""
    box: dict = {}

    def run():
        try:
            with open(path) as ns:
                if _libc.setns(ns.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns failed")
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=run, name="maillab-netns")
    thread.start()
    thread.join()
    if "error" in box:
        err = box["error"]
        if isinstance(err, FileNotFoundError):
            raise SandboxError(_("That part of the lab network is not up: start the lab first.")) from None
        raise err
    return box["value"]


def all_networks() -> list[Network]:
    base = paths.home() / "networks"
    if not base.is_dir():
        return []
    return [Network(d.name) for d in sorted(base.iterdir()) if (d / "network.json").is_file()]
