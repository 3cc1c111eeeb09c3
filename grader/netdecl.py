"""A lab's network as lab.toml declares it, checked with file-and-line messages, turned into a
sandbox NetworkSpec.

    [[machines]]                 # the learner's machines, each with an address
    name = "mail"  hostname = "mail"  domain = "example.test"  address = "192.0.2.10"

    [network]
    dns = "192.0.2.53"           # the lab's DNS server (dnsmasq), ns.example.test
    client = "203.0.113.10"      # the outside client, client.example
    zones = ["example.test"]     # optional: the zones the DNS server answers for (default: every
                                 # domain the lab names)
    [[network.servers]]          # remote mail servers (aiosmtpd)
    name = "mx1"  hostname = "mx1.remote.test"  address = "198.51.100.10"
    domains = ["remote.test"]    mode = "accept"   # or reject, greylist, capture, verify (checks
                                 # SPF, DKIM and DMARC like a mail provider; needs `dns` above)
    [[network.mx]]
    domain = "remote.test"  host = "mx1.remote.test"  preference = 10
    [[network.hosts]]            # more A records (each with its PTR)
    name = "www.example.test"  address = "192.0.2.80"
    [[network.clients]]          # more outside clients (the grader connects from each by name)
    name = "bot"  hostname = "bot.spam.example"  address = "203.0.113.66"
    [[network.txt]]              # TXT records
    name = "example.test"  text = "v=spf1 mx -all"
    [[network.blocklists]]       # a DNS block list (DNSBL) zone listing some addresses
    zone = "dnsbl.example.net"  listed = ["203.0.113.66"]  text = "why they are listed"
    [[network.delegations]]      # a zone the learner publishes: the lab's DNS server answers its host
    zone = "example.test"        # names and MX itself and asks the machine's own DNS server (port 53)
    machine = "mail"             # for everything else (its TXT records: SPF, DKIM, DMARC)
"""
from __future__ import annotations

import re
from pathlib import Path

from sandbox import SandboxError
from sandbox.network import NetworkSpec, Node, check_address

from .errors import MailLabError
from .i18n import N_, Msg, _

NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
NODE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")
MODES = ("accept", "reject", "greylist", "capture", "verify")
SERVER_KEYS = {"name", "hostname", "address", "domains", "mode", "reject", "greylist_seconds"}
# What a name in lab.toml is, and the sentence saying it is not a valid domain name.
HOST_NAME, DOMAIN, HOST_RECORD = "host name", "domain", "host record"
NOT_A_NAME = {
    HOST_NAME: N_("the host name {value} is not a valid domain name."),
    DOMAIN: N_("the domain {value} is not a valid domain name."),
    HOST_RECORD: N_("the host record {value} is not a valid domain name."),
}
USED_TWICE = {
    "name": N_("the name {value} is used twice: every node of the lab network needs its own."),
    "address": N_("the address {value} is used twice: every node of the lab network needs its own."),
    "hostname": N_("the host name {value} is used twice: every node of the lab network needs its own."),
}


class Where:
    """Finds where a table or key stands in lab.toml, for messages a lab author can act on."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = [line.strip() for line in text.splitlines()]

    def line(self, table: str, index: int = 0, key: str | None = None) -> int | None:
        """The line of `key` in the index-th `[table]`/`[[table]]` (the table's header without a key)."""
        headers = [n for n, line in enumerate(self.lines) if line in (f"[[{table}]]", f"[{table}]")]
        if index >= len(headers):
            return None
        start = headers[index]
        if key is None:
            return start + 1
        for n in range(start + 1, len(self.lines)):
            line = self.lines[n]
            if line.startswith("["):
                break
            if re.match(rf"{re.escape(key)}\s*=", line):
                return n + 1
        return start + 1

    def error(self, message: str, table: str = "", index: int = 0, key: str | None = None) -> MailLabError:
        number = self.line(table, index, key) if table else None
        if number:
            return MailLabError(_("{path}, line {line}: {message}", path=str(self.path), line=number, message=message))
        return MailLabError(_("{path}: {message}", path=str(self.path), message=message))


def network_spec(data: dict, machines: list[dict], where: Where) -> NetworkSpec | None:
    """The NetworkSpec of a lab's `[network]` table and machines (None for a lab without one)."""
    net = data.get("network")
    if net is None:
        return None
    if not isinstance(net, dict):
        raise where.error(_("`network` must be a table ([network])."))
    nodes: list[tuple[Node, tuple]] = []  # each with where it was declared
    for i, m in enumerate(machines):
        address = _address(m.get("address"), _("machine {name}", name=m.get("name")), where, ("machines", i, "address"))
        fqdn = f"{m['hostname']}.{m['domain']}" if m.get("domain") else m["hostname"]
        nodes.append((Node(name=m["name"], kind="machine", address=address, hostname=fqdn), ("machines", i, "name")))
    for key, what, default in (("dns", N_("the DNS server"), "ns.example.test"),
                               ("client", N_("the outside client"), "client.example")):
        if key in net:
            place = ("network", 0, key)
            nodes.append((Node(name=key, kind=key, address=_address(net[key], Msg(what, {}), where, place),
                               hostname=_name(net.get(f"{key}_hostname", default), HOST_NAME, where, place)), place))
    for i, server in enumerate(_tables(net, "servers", where)):
        nodes.append((_server(server, where, i, dns=net.get("dns")), ("network.servers", i, "name")))
    for i, client in enumerate(_tables(net, "clients", where)):
        nodes.append((_client(client, where, i), ("network.clients", i, "name")))
    _unique(nodes, where)
    hosts = []
    for i, h in enumerate(_tables(net, "hosts", where)):
        place = ("network.hosts", i, "name")
        hosts.append([_name(h.get("name"), HOST_RECORD, where, place),
                      _address(h.get("address"), _("host {name}", name=h.get("name")), where,
                               ("network.hosts", i, "address"))])
    known = {n.hostname for n, _place in nodes if n.hostname} | {h[0] for h in hosts}
    mx = [_mx(record, i, known, where) for i, record in enumerate(_tables(net, "mx", where))]
    txt = [_txt(record, i, where) for i, record in enumerate(_tables(net, "txt", where))]
    lists = [_blocklist(table, i, where) for i, table in enumerate(_tables(net, "blocklists", where))]
    answers = [[f"{_reversed(ip)}.{zone}", "127.0.0.2"] for zone, listed, _text in lists for ip in listed]
    txt += [[f"{_reversed(ip)}.{zone}", text] for zone, listed, text in lists for ip in listed]
    # By default the DNS server answers for the domain of every host name and every MX domain, and
    # for every block list; a TXT record's name is in a zone of its own when no other holds it.
    zones = net.get("zones") or sorted({name.split(".", 1)[1] for name in known if "." in name} | {m[0] for m in mx}
                                       | {zone for zone, _listed, _text in lists})
    if not isinstance(zones, list) or not all(isinstance(z, str) and NAME.match(z) for z in zones):
        raise where.error(_("`zones` must be a list of domain names."), "network", 0, "zones")
    if not net.get("zones"):
        zones = sorted(set(zones) | {name for name, _text in txt if not _within(name, zones)})
    forward = [_delegation(table, i, machines, where) for i, table in enumerate(_tables(net, "delegations", where))]
    zones = [zone for zone in zones if zone not in {z for z, _address in forward}]
    return NetworkSpec(nodes=[n for n, _place in nodes], zones=zones, hosts=hosts, mx=mx, txt=txt, answers=answers,
                       forward=forward)


def _delegation(table: dict, i: int, machines: list[dict], where: Where) -> list[str]:
    """[zone, address of the machine whose DNS server answers for it]."""
    at = ("network.delegations", i)
    zone = _name(table.get("zone"), DOMAIN, where, (*at, "zone"))
    by_name = {m.get("name"): m.get("address") for m in machines}
    name = table.get("machine")
    if name not in by_name:
        raise where.error(_("delegation of {zone} names machine {name}; the lab's machines are {known}.", zone=zone,
                            name=repr(name), known=", ".join(str(n) for n in by_name)), *at, "machine")
    return [zone, by_name[name]]


def _within(name: str, zones: list[str]) -> bool:
    return any(name == zone or name.endswith("." + zone) for zone in zones)


def _reversed(address: str) -> str:
    return ".".join(reversed(address.split(".")))


def _client(table: dict, where: Where, i: int) -> Node:
    at = ("network.clients", i)
    name = table.get("name")
    if not isinstance(name, str) or not NODE_ID.match(name) or name in ("client", "dns"):
        raise where.error(_("an outside client needs a `name` of lower-case letters, digits and dashes, other than "
                            "client and dns (got {name}).", name=repr(name)), *at, "name")
    unknown = sorted(set(table) - {"name", "hostname", "address"})
    if unknown:
        raise where.error(_("outside client {name} has unknown settings: {settings}.", name=name,
                            settings=", ".join(unknown)), *at, unknown[0])
    return Node(name=name, kind="client", hostname=_name(table.get("hostname"), HOST_NAME, where, (*at, "hostname")),
                address=_address(table.get("address"), _("outside client {name}", name=name), where, (*at, "address")))


def _text(value, where: Where, place: tuple) -> str:
    """A TXT string as dnsmasq takes it: printable ASCII, no quote or backslash, at most 255 characters."""
    if not isinstance(value, str) or not 0 < len(value) <= 255 or not all(" " <= c <= "~" for c in value) \
            or '"' in value or "\\" in value:
        raise where.error(_("`text` must be printable ASCII of 1 to 255 characters, without quotes or backslashes "
                            "(got {value}).", value=repr(value)), *place)
    return value


def _txt(record: dict, i: int, where: Where) -> list[str]:
    at = ("network.txt", i)
    return [_name(record.get("name"), HOST_RECORD, where, (*at, "name")), _text(record.get("text"), where, (*at, "text"))]


def _blocklist(table: dict, i: int, where: Where) -> tuple[str, list[str], str]:
    at = ("network.blocklists", i)
    zone = _name(table.get("zone"), DOMAIN, where, (*at, "zone"))
    listed = table.get("listed")
    if not isinstance(listed, list) or not listed:
        raise where.error(_("block list {zone} needs `listed`: the addresses it lists.", zone=zone), *at, "listed")
    addresses = [_address(ip, _("an address listed by {zone}", zone=zone), where, (*at, "listed")) for ip in listed]
    text = _text(table.get("text", f"Listed by {zone}"), where, (*at, "text"))
    return zone, addresses, text


def _tables(net: dict, key: str, where: Where) -> list[dict]:
    tables = net.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise where.error(_("`network.{key}` must be a list of tables ([[network.{key}]]).", key=key), "network", 0, key)
    return tables


def _address(value, what: str, where: Where, place: tuple) -> str:
    if not isinstance(value, str):
        raise where.error(_("{what} needs an address (a string like \"192.0.2.10\").", what=what), *place)
    try:
        check_address(value, what)
    except SandboxError as exc:
        raise where.error(str(exc), *place) from None
    return value


def _name(value, what: str, where: Where, place: tuple) -> str:
    if not isinstance(value, str) or not NAME.match(value.lower()):
        raise where.error(Msg(NOT_A_NAME[what], {"value": repr(value)}), *place)
    return value.lower()


def _server(table: dict, where: Where, i: int, dns: str | None = None) -> Node:
    name = table.get("name")
    at = ("network.servers", i)
    if not isinstance(name, str) or not NODE_ID.match(name):
        raise where.error(_("a mail server needs a `name` of lower-case letters, digits and dashes (got {name}).",
                            name=repr(name)), *at, "name")
    unknown = sorted(set(table) - SERVER_KEYS)
    if unknown:
        raise where.error(_("mail server {name} has unknown settings: {settings}.", name=name,
                            settings=", ".join(unknown)), *at, unknown[0])
    mode = table.get("mode", "accept")
    if mode not in MODES:
        raise where.error(_("mail server {name} has mode {mode}; use one of {modes}.", name=name, mode=repr(mode),
                            modes=", ".join(MODES)), *at, "mode")
    domains = table.get("domains")
    if not isinstance(domains, list) or not domains:
        raise where.error(_("mail server {name} needs `domains`: the mail domains it accepts mail for.", name=name),
                          *at, "domains")
    settings = {"domains": [_name(d, DOMAIN, where, (*at, "domains")) for d in domains], "mode": mode,
                "reject": [str(r).lower() for r in table.get("reject", [])]}
    if "greylist_seconds" in table:
        if not isinstance(table["greylist_seconds"], (int, float)) or table["greylist_seconds"] < 0:
            raise where.error(_("mail server {name}: `greylist_seconds` must be a number of seconds.", name=name),
                              *at, "greylist_seconds")
        settings["greylist_seconds"] = float(table["greylist_seconds"])
    if mode == "verify":
        if dns is None:
            raise where.error(_("mail server {name} verifies senders and needs the lab's `dns`.", name=name),
                              *at, "mode")
        settings["dns"] = dns
    return Node(name=name, kind="server", hostname=_name(table.get("hostname"), HOST_NAME, where, (*at, "hostname")),
                address=_address(table.get("address"), _("mail server {name}", name=name), where, (*at, "address")),
                server=settings)


def _unique(nodes: list[tuple[Node, tuple]], where: Where) -> None:
    for attr in ("name", "address", "hostname"):
        seen = set()
        for node, place in nodes:
            value = getattr(node, attr)
            if value and value in seen:
                table, index, _key = place
                key = {"name": place[2], "address": "address" if table != "network" else place[2],
                       "hostname": "hostname"}[attr]
                raise where.error(Msg(USED_TWICE[attr], {"value": value}), table, index, key)
            seen.add(value)


def _mx(record: dict, i: int, known: set[str], where: Where) -> list:
    at = ("network.mx", i)
    domain, host, preference = record.get("domain"), record.get("host"), record.get("preference")
    if not isinstance(domain, str) or not NAME.match(domain.lower()):
        raise where.error(_("MX record {number} needs a `domain` (a domain name), got {domain}.", number=i + 1,
                            domain=repr(domain)), *at, "domain")
    if not isinstance(host, str) or not NAME.match(host.lower()):
        raise where.error(_("the MX record for {domain} needs a `host` (a host name), got {host}.", domain=domain,
                            host=repr(host)), *at, "host")
    if not isinstance(preference, int) or isinstance(preference, bool) or not 0 <= preference <= 65535:
        raise where.error(_("the MX record for {domain} needs a `preference` from 0 to 65535 (lower is tried first), "
                            "got {preference}.", domain=domain, preference=repr(preference)), *at, "preference")
    if host.lower() not in known:
        raise where.error(_("the MX record for {domain} names host {host}, which no machine, mail server or host "
                            "record of the lab declares.", domain=domain, host=host), *at, "host")
    return [domain.lower(), host.lower(), preference]
