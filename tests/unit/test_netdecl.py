"""A lab's network declaration: what lab.toml says becomes a NetworkSpec, and every mistake is
reported with the file and the line it stands on."""
import textwrap

import pytest

from grader import course
from grader.errors import MailLabError
from sandbox.network import dnsmasq_conf

HEAD = """\
id = "net"
title = "A networked lab"

[[steps]]
id = "one"
title = "One"

[[machines]]
name = "mail"
hostname = "mail"
domain = "example.test"
address = "192.0.2.10"

[network]
dns = "192.0.2.53"
client = "203.0.113.10"

[[network.servers]]
name = "mx1"
hostname = "mx1.remote.test"
address = "198.51.100.10"
domains = ["remote.test"]
"""
MX = """
[[network.mx]]
domain = "remote.test"
host = "mx1.remote.test"
preference = 10
"""


def load(tmp_path, text):
    folder = tmp_path / "07-net"
    folder.mkdir()
    (folder / "lab.toml").write_text(textwrap.dedent(text))
    return course.load(folder)


def error(tmp_path, text) -> str:
    with pytest.raises(MailLabError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def test_a_network_becomes_nodes_records_and_zones(tmp_path):
    lab = load(tmp_path, HEAD + MX)
    nodes = {n.name: (n.kind, n.address, n.hostname) for n in lab.network.nodes}
    assert nodes == {"mail": ("machine", "192.0.2.10", "mail.example.test"),
                     "dns": ("dns", "192.0.2.53", "ns.example.test"),
                     "client": ("client", "203.0.113.10", "client.example"),
                     "mx1": ("server", "198.51.100.10", "mx1.remote.test")}
    assert lab.network.mx == [["remote.test", "mx1.remote.test", 10]]
    assert lab.network.zones == ["example", "example.test", "remote.test"]
    assert lab.network.node("mx1").server == {"domains": ["remote.test"], "mode": "accept", "reject": []}


def test_a_lab_without_a_network_has_none(tmp_path):
    lab = load(tmp_path, HEAD.split("[network]")[0])
    assert lab.network is None


def test_a_duplicate_name_names_the_second_line(tmp_path):
    text = HEAD + MX + """
[[network.servers]]
name = "mx1"
hostname = "mx2.remote.test"
address = "198.51.100.20"
domains = ["remote.test"]
"""
    message = error(tmp_path, text)
    line = text.splitlines().index('name = "mx1"', 25) + 1
    assert f"lab.toml, line {line}:" in message and "mx1 is used twice" in message


def test_a_duplicate_machine_name_is_refused(tmp_path):
    text = HEAD.replace("[network]", '[[machines]]\nname = "mail"\nhostname = "mail2"\ndomain = "example.test"\n'
                        'address = "192.0.2.20"\n\n[network]')
    message = error(tmp_path, text)
    assert "lab.toml, line 15:" in message and "'mail'" in message


def test_an_mx_naming_an_unknown_host(tmp_path):
    text = HEAD + MX.replace("host = \"mx1.remote.test\"", "host = \"mx9.remote.test\"")
    message = error(tmp_path, text)
    assert "line 26:" in message and "mx9.remote.test, which no machine, mail server or host record" in message


def test_an_address_outside_the_lab_ranges(tmp_path):
    text = HEAD.replace('address = "198.51.100.10"', 'address = "10.0.0.5"')
    message = error(tmp_path, text)
    assert "line 21:" in message and "mail server mx1, 10.0.0.5, is outside the lab ranges" in message


@pytest.mark.parametrize("address", ["192.0.2.1", "192.0.2.255", "300.1.2.3", "mail"])
def test_hub_broadcast_and_garbage_addresses_are_refused(tmp_path, address):
    message = error(tmp_path, HEAD.replace('address = "192.0.2.10"', f'address = "{address}"'))
    assert "lab.toml, line 12:" in message


@pytest.mark.parametrize("bad, needle", [
    ("preference = 10", "preference = -1"),
    ("preference = 10", 'preference = "high"'),
    ("preference = 10", ""),
    ('domain = "remote.test"', 'domain = "remote..test"'),
])
def test_a_malformed_mx_is_refused_with_its_line(tmp_path, bad, needle):
    message = error(tmp_path, HEAD + MX.replace(bad, needle))
    assert "lab.toml" in message and "line" in message and "MX record" in message


def test_an_unknown_server_mode_and_setting(tmp_path):
    assert "mode 'bounce'" in error(tmp_path, HEAD.replace('domains = ["remote.test"]',
                                                           'domains = ["remote.test"]\nmode = "bounce"'))


def test_two_nodes_with_one_address(tmp_path):
    message = error(tmp_path, HEAD.replace('dns = "192.0.2.53"', 'dns = "192.0.2.10"'))
    assert "192.0.2.10 is used twice" in message


SPAM = """
[[network.clients]]
name = "bot"
hostname = "bot.spam.example"
address = "203.0.113.66"

[[network.txt]]
name = "example.test"
text = "v=spf1 mx -all"

[[network.blocklists]]
zone = "dnsbl.example.net"
listed = ["203.0.113.66"]
text = "Listed: a spam bot"
"""


def test_more_clients_txt_records_and_a_block_list(tmp_path):

    lab = load(tmp_path, HEAD + MX + SPAM)
    nodes = {n.name: (n.kind, n.address, n.hostname) for n in lab.network.nodes}
    assert nodes["bot"] == ("client", "203.0.113.66", "bot.spam.example")
    assert lab.network.txt == [["example.test", "v=spf1 mx -all"],
                               ["66.113.0.203.dnsbl.example.net", "Listed: a spam bot"]]
    assert lab.network.answers == [["66.113.0.203.dnsbl.example.net", "127.0.0.2"]]
    assert "dnsbl.example.net" in lab.network.zones and "spam.example" in lab.network.zones
    dns = lab.network.node("dns")
    conf = dnsmasq_conf(lab.network, dns, tmp_path)
    assert "address=/66.113.0.203.dnsbl.example.net/127.0.0.2\n" in conf
    assert 'txt-record=example.test,"v=spf1 mx -all"\n' in conf
    assert "local=/dnsbl.example.net/\n" in conf


@pytest.mark.parametrize("bad, needle", [
    ('[[network.txt]]\nname = "example.test"\ntext = "say \\"hi\\""\n', "without quotes"),
    ('[[network.txt]]\nname = "example.test"\n', "printable ASCII"),
    ('[[network.blocklists]]\nzone = "dnsbl.example.net"\n', "needs `listed`"),
    ('[[network.blocklists]]\nzone = "dnsbl.example.net"\nlisted = ["10.0.0.1"]\n', "outside the lab ranges"),
    ('[[network.clients]]\nname = "client"\nhostname = "x.example"\naddress = "203.0.113.9"\n', "other than"),
    ('[[network.clients]]\nname = "bot"\nhostname = "x.example"\naddress = "203.0.113.9"\nport = 1\n',
     "unknown settings"),
])
def test_a_bad_txt_block_list_or_client_is_refused_with_its_line(tmp_path, bad, needle):
    said = error(tmp_path, HEAD + "\n" + bad)
    assert needle in said and "line" in said


def test_a_delegated_zone_is_asked_of_the_learners_machine(tmp_path):
    lab = load(tmp_path, HEAD + MX + '\n[[network.delegations]]\nzone = "example.test"\nmachine = "mail"\n')
    assert lab.network.forward == [["example.test", "192.0.2.10"]]
    assert "example.test" not in lab.network.zones  # no local=/example.test/: dnsmasq would answer for it
    conf = dnsmasq_conf(lab.network, lab.network.node("dns"), tmp_path)
    assert "server=/example.test/192.0.2.10" in conf.splitlines()
    assert "local=/example.test/" not in conf and "host-record=mail.example.test,192.0.2.10" in conf


def test_a_delegation_to_a_machine_the_lab_lacks_is_refused_with_its_line(tmp_path):
    text = HEAD + MX + '\n[[network.delegations]]\nzone = "example.test"\nmachine = "mail9"\n'
    message = error(tmp_path, text)
    line = text.splitlines().index('machine = "mail9"') + 1
    assert f"lab.toml, line {line}:" in message and "'mail9'" in message and "mail" in message
