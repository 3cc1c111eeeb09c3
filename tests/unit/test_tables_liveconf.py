"""Lookup tables named in a parameter and whether they are built; whether main.cf is loaded;
waiting for a message to leave the queue. Pure logic over the fake backend."""
from __future__ import annotations

from grader import Host
from grader.testing import FakeBackend, FakeClock
from grader.liveconf import liveness, parse_liveness
from grader.maillog import Delivery
from grader.tables import Table, freshness, names_path, parse_tables



LOG = "/var/log/mail.log"
# `cut -d')' -f2-` of /proc/PID/stat: field 3 (state) first, starttime is field 22.
STAT_AFTER_COMM = " S 355 355 355 0 -1 4194560 328 0 0 0 0 0 0 0 20 0 1 0 {start} 43773952 1815"


def test_tables_of_a_parameter_value():
    tables = parse_tables("hash:/etc/aliases, nis:mail.aliases regexp:/etc/postfix/re $other plain")
    assert [str(t) for t in tables] == ["hash:/etc/aliases", "nis:mail.aliases", "regexp:/etc/postfix/re"]
    assert tables[0].built_path == "/etc/aliases.db" and tables[2].built_path is None
    assert Table("lmdb", "/etc/postfix/virtual").built_path == "/etc/postfix/virtual.lmdb"
    assert parse_tables(None) == [] and parse_tables("") == []
    assert names_path("hash:/etc/aliases", "/etc/aliases") and not names_path("hash:/etc/postfix/aliases", "/etc/aliases")


def test_a_table_edited_after_its_build_is_stale():
    fake = FakeBackend()
    host = Host(fake)
    table = Table("hash", "/etc/postfix/virtual")
    assert freshness(host, table).state == "no-source"
    fake.add_file("/etc/postfix/virtual", "info@shop.example.test alice\n", mtime=100.0)
    assert freshness(host, table).state == "not-built"
    fake.add_file("/etc/postfix/virtual.db", b"\0", mtime=100.0)
    assert freshness(host, table).ok  # built in the same second as the edit counts as built
    fake.add_file("/etc/postfix/virtual", "info@shop.example.test bob\n", mtime=101.0)
    fresh = freshness(host, table)
    assert fresh.state == "stale" and fresh.source_mtime == 101.0 and fresh.built_mtime == 100.0
    assert freshness(host, Table("regexp", "/etc/postfix/virtual")).ok  # read as it is: nothing to build
    cdb = Table("cdb", "/etc/postfix/virtual")  # postmap builds virtual.cdb, and a virtual.db says nothing
    assert cdb.built_path == "/etc/postfix/virtual.cdb" and freshness(host, cdb).state == "not-built"
    fake.add_file("/etc/postfix/virtual.cdb", b"\0", mtime=102.0)
    assert freshness(host, cdb).ok


def _probe(mtime, start=1315509, master=None):
    # qmgr started at uptime 13155.09 s (100 ticks a second); now uptime 13196.28: it runs for 41.19 s.
    lines = ["100 13196.28 1796030259.66", STAT_AFTER_COMM.format(start=start),
             f"{mtime} /etc/postfix/main.cf", f"{master or 1796030259.66 - 900} /etc/postfix/master.cf"]
    return "\n".join(lines) + "\n"


def test_main_cf_written_after_postfix_started_is_not_live():
    before = parse_liveness(_probe(1796030259.66 - 60))
    assert before.running and before.live and round(before.loaded_ago, 2) == 41.19
    after = parse_liveness(_probe(1796030259.66 - 5))
    assert not after.live and round(after.changed_ago) == 5 and after.changed == ("/etc/postfix/main.cf",)
    same_instant = parse_liveness(_probe(1796030259.66 - 41.17))  # postconf -e; postfix reload
    assert same_instant.live
    master = parse_liveness(_probe(1796030259.66 - 60, master=1796030259.66 - 2))
    assert master.changed == ("/etc/postfix/master.cf",)


def test_liveness_when_postfix_is_stopped_or_main_cf_is_missing():
    assert not parse_liveness("none\n").running and not parse_liveness("none").live
    missing = parse_liveness("100 50.0 1000.0\n" + STAT_AFTER_COMM.format(start=1000) + "\n- /etc/postfix/main.cf\n")
    assert missing.running and missing.live and missing.main_cf_age is None
    fake = FakeBackend()
    fake.on("/bin/sh", stdout="none\n")
    assert not liveness(Host(fake)).running
    assert fake.calls[0][0][-2:] == ("/etc/postfix/main.cf", "/etc/postfix/master.cf") or \
        list(fake.calls[0][0][-2:]) == ["/etc/postfix/main.cf", "/etc/postfix/master.cf"]


def test_settle_waits_until_the_queue_files_are_removed():
    """A list alias: the message is complete after its first recipient's line; settle waits for all."""
    fake, clock = FakeBackend(), FakeClock()
    host = Host(fake, clock=clock, sleep=clock.sleep)
    fake.add_file(LOG, "Nov 30 05:40:01 mail postfix/cleanup[1]: 4A2B3C4D5E: message-id=<m@x.test>\n"
                       "Nov 30 05:40:01 mail postfix/local[2]: 4A2B3C4D5E: to=<alice@example.test>, orig_to=<sales>, "
                       "relay=local, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)\n")
    first = Delivery(message_id="m@x.test", recipients=("sales",), queue_ids=["4A2B3C4D5E"])

    def second_line():
        if clock.now >= 0.1 and "removed" not in fake.files[LOG].content.decode():
            fake.append(LOG, "Nov 30 05:40:01 mail postfix/local[2]: 4A2B3C4D5E: to=<bob@example.test>, "
                             "orig_to=<sales>, relay=local, delay=0, delays=0/0/0/0, dsn=2.0.0, "
                             "status=sent (delivered to mailbox)\n"
                             "Nov 30 05:40:01 mail postfix/qmgr[3]: 4A2B3C4D5E: removed\n")

    clock.on_sleep.append(second_line)
    settled = host.settle(first, within=2)
    assert {o.to for o in settled.outcomes_for("sales")} == {"alice@example.test", "bob@example.test"}
    assert 0.1 <= clock.now < 0.3
