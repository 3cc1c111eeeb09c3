"""Lab 12 on real machines: every fault of the pool found and repaired, one by one; a diagnosis
with a wrong or missing fault, and half-done repairs (on one draw of five, FIVE below); the hint
ladder climbing per fault."""

import pytest

from classroom.layers import run_scripts, Script
from grader import course
from grader.result import Status

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine
ANSWERS = "/root/answers/diagnosis.txt"
HELD = "grep -l -r -e held-1.maillab -e held-2.maillab /home/alice/Maildir/new /home/alice/Maildir/cur"

# Wrong states hunted per step: (test function, why it is wrong although it looks right).
HUNTED = {
    "diagnose": [
        ("test_a_working_part_named_as_a_fault", "all real faults may be there, but dns-mx works: the diagnosis blames a sound part"),
        ("test_a_missing_fault_is_pointed_at_not_named", "two faults named correctly, three others still unfound"),
        ("test_an_unknown_id", "a sentence instead of ids: it reads like a diagnosis but names no fault of the table"),
        ("test_every_id_of_the_table_named", "all five faults are named, but so is every decoy: a guess, not a diagnosis"),
        ("test_a_fault_of_the_pool_this_server_was_not_given", "all five faults named, and one more from the pool that this server was never given: another learner's answer"),
    ],
    "repair": [
        ("test_progress_shows_fault_by_fault", "four repairs done, the alias database forgotten: mail for support@ is refused"),
        ("test_every_fault_of_the_pool_is_seen_and_its_repair_counts", "twelve of thirteen faults repaired at each stage: each probe must see its own fault and nothing else"),
        ("test_held_mail_deleted_instead_of_released", "the queue is empty and mail flows, but the two held messages never reached alice"),
        ("test_held_mail_present_but_unreadable_to_alice", "the held messages are in her Maildir, but alice cannot open them over IMAP or POP3"),
        ("test_alias_line_removed_and_database_rebuilt", "aliases.db is newer than /etc/aliases, yet support@ has no alias at all"),
        ("test_maildir_chowned_without_r", "the Maildir folders are alice's, the files inside still root's: Dovecot cannot deliver"),
        ("test_chown_of_all_of_home_takes_bobs_home", "alice's mail works again, but bob's home is now alice's: mail for bob waits"),
        ("test_mydestination_rewritten_without_the_host_name", "example.test is local again, mail for alice@mail.example.test is refused"),
    ],
}


# The draw the wrong states below are made on.
FIVE = ("aliases-not-rebuilt", "domain-not-local", "lmtp-socket", "mail-on-hold", "maildir-permissions")


@pytest.fixture
def lab12(lab_session, tmp_path, monkeypatch):
    monkeypatch.setenv("MAILLAB_GRADEBOOK", str(tmp_path / "gradebook.sqlite"))  # each test climbs its own ladders
    return lab_session("troubleshooting", drawn=FIVE)


def _top_rung(session, step="repair"):
    """Check until the first problem's hint ladder is at its top (what is wrong): that item."""
    for _ in range(4):
        item = first_problem(session, step)
        if not item.about or item.hint_level >= 2:
            return item
    return item


def _full_repair(session):
    """The reference repair of the draw: each fault's own part, then solve/repair.sh."""
    parts = [(session.lab.dir / "faults" / fault / "repair.sh").read_text() for fault in session.drawn]
    return "\n".join(parts + [(session.lab.dir / "solve" / "repair.sh").read_text()])


def _repair_script(session, fault):
    path = session.lab.dir / "faults" / fault / "repair.sh"
    return Script(str(path), session.variant.script_prefix() + path.read_bytes())


def test_every_fault_of_the_pool_is_seen_and_its_repair_counts(lab_session):
    """All thirteen faults at once: each fault's own repair makes the count of repaired faults grow
    by one, so each probe sees its fault and its repair; then the common part makes the step PASS."""
    lab = course.find("troubleshooting")
    session = lab_session("troubleshooting", drawn=lab.pool)
    session.reset("repair")
    for done, fault in enumerate(lab.pool):
        item = first_problem(session, "repair")
        assert item.name == "every_fault_is_repaired", (fault, item)
        assert f"repaired {done} of your {len(lab.pool)}" in item.detail, (fault, item.detail)
        run_scripts([_repair_script(session, fault)], session.machine())
        if fault == "mail-on-hold":  # repaired once what it held is released too (to wait for the flush)
            sh(session, "postsuper -H ALL 2>/dev/null")
    sh(session, (lab.dir / "solve" / "repair.sh").read_text())
    result = session.check("repair")
    assert result.status is Status.PASS, str(result)


def test_learners_get_different_draws_and_keep_theirs(lab_session):
    lab = course.find("troubleshooting")
    draws = {name: course.variant_for(lab, name).drawn for name in ("ana", "ben", "chen", "dara", "eli")}
    assert len(set(draws.values())) > 1 and all(len(d) == lab.draw for d in draws.values())
    session = lab_session("troubleshooting")
    session.reset("diagnose")
    session.solve("diagnose", only=True)
    named = sh(session, f"cat {ANSWERS}").out.split()
    session.reset()  # a reset of the whole lab gives the same faults back
    session.solve("diagnose", only=True)
    assert sh(session, f"cat {ANSWERS}").out.split() == named == list(session.drawn)


def test_the_hint_ladder_climbs_per_fault(lab12):
    """Three FAILs on one fault: its symptom, then where to look, then what is wrong; the next fault
    starts again at its symptom. The rung reached is in the gradebook."""
    lab12.reset("repair")
    hints = [first_problem(lab12, "repair") for _ in range(3)]
    assert [h.hint_level for h in hints] == [0, 1, 2] and len({h.hint for h in hints}) == 3
    assert all(h.about == hints[0].about for h in hints)
    run_scripts([_repair_script(lab12, hints[0].about)], lab12.machine())
    sh(lab12, "postfix reload >/dev/null 2>&1; doveadm reload")
    nxt = first_problem(lab12, "repair")
    assert nxt.about != hints[0].about and nxt.hint_level == 0
    record = lab12.gradebook.last_result(lab12.learner, lab12.lab.id, "repair", checks_only=True)
    assert record.items[0].about == nxt.about


def test_a_working_part_named_as_a_fault(lab12):
    lab12.reset("diagnose")
    sh(lab12, f"mkdir -p /root/answers && printf 'lmtp-socket\\ndns-mx\\n' > {ANSWERS}")
    item = first_problem(lab12, "diagnose")
    assert item.name == "no_working_part_is_named" and "dig MX example.test" in item.detail


def test_a_missing_fault_is_pointed_at_not_named(lab12):
    lab12.reset("diagnose")
    sh(lab12, f"mkdir -p /root/answers && printf 'domain-not-local\\nlmtp-socket\\n# notes\\n' > {ANSWERS}")
    item = first_problem(lab12, "diagnose")
    assert item.name == "every_fault_is_named" and "2 of the 5" in item.detail
    assert "User unknown" in item.hint and "aliases" not in item.hint  # first the symptom
    item = first_problem(lab12, "diagnose")
    assert "/etc/aliases" in item.hint and "aliases-not-rebuilt" not in item.hint  # then where to look


def test_an_unknown_id(lab12):
    lab12.reset("diagnose")
    sh(lab12, f"mkdir -p /root/answers && printf 'the mail is broken\\n' > {ANSWERS}")
    item = first_problem(lab12, "diagnose")
    assert item.name == "every_id_is_from_the_table"


def test_progress_shows_fault_by_fault(lab12):
    """Four faults repaired, the alias database forgotten: the check says 4 of 5 and names what is left."""
    lab12.reset("repair")
    sh(lab12, "sed -i 's/^mydestinaton *=/mydestination =/' /etc/postfix/main.cf"
              " && sed -i 's#private/dovecot_lmtp#private/dovecot-lmtp#' /etc/dovecot/conf.d/99-lmtp.conf"
              " && doveadm reload && postconf -X header_checks && chown -R alice:alice /home/alice/Maildir"
              " && postfix reload >/dev/null 2>&1 && postsuper -H ALL 2>/dev/null && postqueue -f && sleep 1")
    item = _top_rung(lab12)
    assert item.name == "every_fault_is_repaired"
    assert "repaired 4 of your 5" in item.detail and "newaliases" in item.hint


def test_held_mail_deleted_instead_of_released(lab12):
    lab12.reset("repair")
    sh(lab12, "postsuper -d ALL hold 2>/dev/null")
    sh(lab12, _full_repair(lab12))
    item = first_problem(lab12, "repair")
    assert item.name == "the_waiting_mail_reached_alice" and "postsuper -d" in item.hint


def test_a_fault_of_the_pool_this_server_was_not_given(lab12):
    lab12.reset("diagnose")
    sh(lab12, f"mkdir -p /root/answers && printf '%s\\n' {' '.join(FIVE)} open-relay > {ANSWERS}")
    item = first_problem(lab12, "diagnose")
    assert item.name == "no_working_part_is_named" and "open-relay" in item.detail and "mynetworks" in item.detail


def test_every_id_of_the_table_named(lab12):
    lab12.reset("diagnose")
    ids = " ".join(FIVE) + " dns-mx dovecot-stopped postfix-stopped wrong-password disk-full"
    sh(lab12, f"mkdir -p /root/answers && printf '%s\\n' {ids} > {ANSWERS}")
    item = first_problem(lab12, "diagnose")
    assert item.name == "no_working_part_is_named" and "dns-mx" in item.detail


def _repair(lab12, old, new):
    """The reference repair with one line done another way (the queue may then not empty: no error)."""
    script = _full_repair(lab12)
    assert old in script and script.rstrip().endswith("exit 1")
    sh(lab12, script.replace(old, new).rstrip().removesuffix("exit 1") + "exit 0\n")


def test_held_mail_present_but_unreadable_to_alice(lab12):
    """Issue 21: the held messages are delivered but alice cannot read them (mode 000). They are not
    gone, and `postsuper -d` has nothing to do with it."""
    lab12.reset("repair")
    lab12.solve("repair", only=True)
    sh(lab12, f"chmod 000 $({HELD})")
    item = _top_rung(lab12)
    assert item.name == "every_fault_is_repaired" and item.about == "maildir-permissions"
    assert "postsuper -d" not in (item.hint or "") and "gone" not in (item.hint or "")
    assert "alice cannot read" in item.hint and "/home/alice/Maildir/" in item.hint
    assert "chmod" in item.hint


def test_alias_line_removed_and_database_rebuilt(lab12):
    """Issue 21: the learner removed the new alias and ran newaliases: the database is newer than the
    file, and newaliases cannot bring the alias back."""
    lab12.reset("repair")
    _repair(lab12, "newaliases", "sed -i '/^support:/d' /etc/aliases && newaliases")
    item = _top_rung(lab12)
    assert item.name == "every_fault_is_repaired"
    assert "newer" not in item.hint and "/etc/aliases has no support" in item.hint
    assert "support: alice" in item.hint


def test_maildir_chowned_without_r(lab12):
    lab12.reset("repair")
    _repair(lab12, "chown -R alice:alice /home/alice/Maildir",
            "chown alice:alice /home/alice/Maildir /home/alice/Maildir/new /home/alice/Maildir/cur "
            "/home/alice/Maildir/tmp")
    item = _top_rung(lab12)
    assert item.name == "every_fault_is_repaired"
    assert "repaired 4 of your 5" in item.detail and "dovecot-uidlist" in item.hint and "chown -R" in item.hint


def test_chown_of_all_of_home_takes_bobs_home(lab12):
    lab12.reset("repair")
    _repair(lab12, "chown -R alice:alice /home/alice/Maildir", "chown -R alice:alice /home/")
    item = _top_rung(lab12)
    assert item.name == "every_fault_is_repaired"
    assert "/home/bob" in item.hint and "chown -R bob:bob /home/bob" in item.hint


def test_mydestination_rewritten_without_the_host_name(lab12):
    lab12.reset("repair")
    _repair(lab12, "sed -i 's/^mydestinaton *=/mydestination =/' /etc/postfix/main.cf",
            "sed -i '/^mydestinaton *=/d' /etc/postfix/main.cf && postconf -e mydestination=example.test")
    item = _top_rung(lab12)
    assert item.name == "every_fault_is_repaired"
    assert "mydestination = example.test" in item.hint and "alice@mail.example.test is refused" in item.hint
    assert "$myhostname" in item.hint
