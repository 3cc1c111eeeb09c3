"""Proof that nothing leaves the lab networks.

Every namespace of a lab network (its hub and each node) gets an nftables table when it is made:
any packet sent or routed there to an address outside the lab ranges is counted and dropped
(loopback, and link-local multicast such as the bridge's IGMP reports, never pass a router and are
let be); packets to lab addresses are counted too, so a zero means "traffic ran and none of it
left", not "nothing was watched". When a network goes down its last counts are appended to a log
in the state folder, so a run that makes and removes networks loses none.

    with hermetic.watch() as seen:
        ...  # anything: a lab, a whole course run
    assert seen.escaped == 0 and not seen.host_veths, seen.summary()
"""
from __future__ import annotations

import json
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import paths
from .errors import SandboxError, _

TABLE = "maillab_hermetic"
LAB_NETS = "192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24"
RULES = f"""
table inet {TABLE} {{
    counter escaped {{ }}
    counter lab {{ }}
    chain sent {{
        type filter hook output priority 0; policy accept;
        jump judge
    }}
    chain routed {{
        type filter hook forward priority 0; policy accept;
        jump judge
    }}
    chain judge {{
        ip daddr {{ 127.0.0.0/8, 224.0.0.0/24, 255.255.255.255 }} return
        ip6 daddr {{ ::1, fe80::/10, ff02::/16 }} return
        ip daddr {{ {LAB_NETS} }} counter name lab return
        meta nfproto {{ ipv4, ipv6 }} counter name escaped drop
    }}
}}
"""


def install(netns: str) -> None:
    """Put the counting table into a network namespace (a file under /run/netns)."""
    done = subprocess.run(["nsenter", f"--net={netns}", "--", "nft", "-f", "-"], input=RULES,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SandboxError(_("Could not set up the lab network's packet counters: {detail}. This host needs "
                             "nftables (`apt-get install nftables`).", detail=done.stderr.strip() or 'nft failed'))


def counts(netns: str) -> tuple[int, int] | None:
    """(escaped, lab) packets counted in a namespace so far; None when it has no table."""
    done = subprocess.run(["nsenter", f"--net={netns}", "--", "nft", "-j", "list", "counters", "table", "inet", TABLE],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return None
    found = {}
    for item in json.loads(done.stdout).get("nftables", []):
        counter = item.get("counter")
        if counter:
            found[counter["name"]] = counter["packets"]
    return found.get("escaped", 0), found.get("lab", 0)


def log_file() -> Path:
    return paths.home() / "hermetic.log"


def record_final(netns_name: str, netns: str) -> None:
    """Note a namespace's last counts before it is removed (see the module's text)."""
    seen = counts(netns)
    if seen is None:
        return
    log_file().parent.mkdir(parents=True, exist_ok=True)
    with open(log_file(), "a") as out:
        out.write(json.dumps({"netns": netns_name, "escaped": seen[0], "lab": seen[1], "at": time.time()}) + "\n")


def _live() -> dict[str, tuple[int, int]]:
    """Counts of every lab namespace of this installation that is up now."""
    prefix = paths.host_tag() + "--"
    base = Path("/run/netns")
    if not base.is_dir():
        return {}
    found = {}
    for ns in sorted(base.iterdir()):
        if ns.name.startswith(prefix):
            seen = counts(str(ns))
            if seen is not None:
                found[ns.name] = seen
    return found


def _logged(offset: int) -> list[dict]:
    try:
        with open(log_file()) as log:
            log.seek(offset)
            return [json.loads(line) for line in log if line.strip()]
    except FileNotFoundError:
        return []


def host_veths() -> list[str]:
    """veth ends in the host's own namespace whose peer is in a lab namespace of this installation
    (there should never be one: each pair is made straight into its two namespaces)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    ids = set()
    for line in listed.splitlines():
        name, _sep, rest = line.partition(" (id: ")
        if name.startswith(paths.host_tag() + "--") and rest:
            ids.add(int(rest.rstrip(")")))
    links = json.loads(subprocess.run(["ip", "-j", "-d", "link", "show", "type", "veth"], capture_output=True,
                                      text=True).stdout or "[]")
    return [link["ifname"] for link in links if link.get("link_netnsid") in ids]


@dataclass
class Seen:
    """What a watched stretch of time sent: packets to outside addresses (escaped), packets between
    lab addresses (lab), per namespace, and veths that landed in the host's namespace."""
    escaped: int = 0
    lab: int = 0
    by_netns: dict[str, tuple[int, int]] = field(default_factory=dict)
    host_veths: list[str] = field(default_factory=list)

    def summary(self) -> str:
        leaks = {ns: e for ns, (e, _) in self.by_netns.items() if e}
        return (f"{self.escaped} packet(s) to outside addresses ({leaks or 'none'}), {self.lab} between lab "
                f"addresses, in {len(self.by_netns)} namespace(s); veths in the host namespace: {self.host_veths or 'none'}")


@contextmanager
def watch():
    """Count, over the `with` block, the packets all this installation's lab networks sent (see above)."""
    before = _live()
    try:
        offset = log_file().stat().st_size
    except FileNotFoundError:
        offset = 0
    seen = Seen()
    try:
        yield seen
    finally:
        totals: dict[str, list[int]] = {}
        # A namespace removed and made again under one name is counted once per life.
        for entry in _logged(offset):
            start = before.pop(entry["netns"], (0, 0))
            total = totals.setdefault(entry["netns"], [0, 0])
            total[0] += entry["escaped"] - start[0]
            total[1] += entry["lab"] - start[1]
        for name, (escaped, lab) in _live().items():
            start = before.get(name, (0, 0))
            total = totals.setdefault(name, [0, 0])
            total[0] += escaped - start[0]
            total[1] += lab - start[1]
        seen.by_netns = {name: (e, lab) for name, (e, lab) in totals.items()}
        seen.escaped = sum(escaped for escaped, _lab in seen.by_netns.values())
        seen.lab = sum(lab for _, lab in seen.by_netns.values())
        seen.host_veths = host_veths()
