"""Lab 12 on real machines: a diagnosis with a wrong or missing fault, and half-done repairs."""
import pytest

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
    ],
    "repair": [
        ("test_progress_shows_fault_by_fault", "four repairs done, the alias database forgotten: mail for support@ is refused"),
        ("test_held_mail_deleted_instead_of_released", "the queue is empty and mail flows, but the two held messages never reached alice"),
        ("test_held_mail_present_but_unreadable_to_alice", "the held messages are in her Maildir, but alice cannot open them over IMAP or POP3"),
        ("test_alias_line_removed_and_database_rebuilt", "aliases.db is newer than /etc/aliases, yet support@ has no alias at all"),
        ("test_maildir_chowned_without_r", "the Maildir folders are alice's, the files inside still root's: Dovecot cannot deliver"),
        ("test_chown_of_all_of_home_takes_bobs_home", "alice's mail works again, but bob's home is now alice's: mail for bob waits"),
        ("test_mydestination_rewritten_without_the_host_name", "example.test is local again, mail for alice@mail.example.test is refused"),
    ],
}


@pytest.fixture
def lab12(lab_session):
    return lab_session("troubleshooting")


def test_a_working_part_named_as_a_fault(lab12):
    lab12.reset("diagnose")
    sh(lab12, f"mkdir -p /root/answers && printf 'lmtp-socket\\ndns-mx\\n' > {ANSWERS}")
    item = first_problem(lab12, "diagnose")
    assert item.name == "no_working_part_is_named" and "dig MX example.test" in item.detail


def test_a_missing_fault_is_pointed_at_not_named(lab12):
    lab12.reset("diagnose")
    sh(lab12, f"mkdir -p /root/answers && printf 'domain-not-local\\nlmtp-socket\\n# notes\\n' > {ANSWERS}")
    item = first_problem(lab12, "diagnose")
    assert item.name == "all_five_faults_are_named" and "2 of 5" in item.detail
    assert "aliases" in item.hint and "aliases-not-rebuilt" not in item.hint


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
    item = first_problem(lab12, "repair")
    assert item.name == "every_fault_is_repaired"
    assert "repaired 4 of 5" in item.detail and "newaliases" in item.hint


def test_held_mail_deleted_instead_of_released(lab12):
    lab12.reset("repair")
    sh(lab12, "postsuper -d ALL hold 2>/dev/null")
    script = (lab12.lab.dir / "solve" / "repair.sh").read_text()
    sh(lab12, script)
    item = first_problem(lab12, "repair")
    assert item.name == "the_held_mail_reached_alice" and "postsuper -d" in item.hint


def test_every_id_of_the_table_named(lab12):
    lab12.reset("diagnose")
    ids = "domain-not-local lmtp-socket aliases-not-rebuilt mail-on-hold maildir-permissions dns-mx dovecot-stopped " \
          "postfix-stopped wrong-password disk-full"
    sh(lab12, f"mkdir -p /root/answers && printf '%s\\n' {ids} > {ANSWERS}")
    item = first_problem(lab12, "diagnose")
    assert item.name == "no_working_part_is_named" and "dns-mx" in item.detail


def _repair(lab12, old, new):
    """The reference repair with one line done another way (the queue may then not empty: no error)."""
    script = (lab12.lab.dir / "solve" / "repair.sh").read_text()
    assert old in script and script.rstrip().endswith("exit 1")
    sh(lab12, script.replace(old, new).rstrip().removesuffix("exit 1") + "exit 0\n")


def test_held_mail_present_but_unreadable_to_alice(lab12):
    """Issue 21: the held messages are delivered but alice cannot read them (mode 000). They are not
    gone, and `postsuper -d` has nothing to do with it."""
    lab12.reset("repair")
    lab12.solve("repair", only=True)
    sh(lab12, f"chmod 000 $({HELD})")
    result = lab12.check("repair")
    assert result.status is Status.FAIL
    item = result.first_problem
    assert "postsuper -d" not in (item.hint or "") and "gone" not in (item.hint or "")
    assert "alice cannot read" in item.detail and "/home/alice/Maildir/" in item.detail
    assert "chmod" in item.hint


def test_alias_line_removed_and_database_rebuilt(lab12):
    """Issue 21: the learner removed the new alias and ran newaliases: the database is newer than the
    file, and newaliases cannot bring the alias back."""
    lab12.reset("repair")
    _repair(lab12, "newaliases", "sed -i '/^support:/d' /etc/aliases && newaliases")
    item = first_problem(lab12, "repair")
    assert item.name == "every_fault_is_repaired"
    assert "newer" not in item.detail and "/etc/aliases has no support" in item.detail
    assert "support: alice" in item.hint


def test_maildir_chowned_without_r(lab12):
    lab12.reset("repair")
    _repair(lab12, "chown -R alice:alice /home/alice/Maildir",
            "chown alice:alice /home/alice/Maildir /home/alice/Maildir/new /home/alice/Maildir/cur "
            "/home/alice/Maildir/tmp")
    item = first_problem(lab12, "repair")
    assert item.name == "every_fault_is_repaired"
    assert "repaired 4 of 5" in item.detail and "dovecot-uidlist" in item.detail and "chown -R" in item.hint


def test_chown_of_all_of_home_takes_bobs_home(lab12):
    lab12.reset("repair")
    _repair(lab12, "chown -R alice:alice /home/alice/Maildir", "chown -R alice:alice /home/")
    item = first_problem(lab12, "repair")
    assert item.name == "every_fault_is_repaired"
    assert "/home/bob" in item.detail and "chown -R bob:bob /home/bob" in item.hint


def test_mydestination_rewritten_without_the_host_name(lab12):
    lab12.reset("repair")
    _repair(lab12, "sed -i 's/^mydestinaton *=/mydestination =/' /etc/postfix/main.cf",
            "sed -i '/^mydestinaton *=/d' /etc/postfix/main.cf && postconf -e mydestination=example.test")
    item = first_problem(lab12, "repair")
    assert item.name == "every_fault_is_repaired"
    assert "mydestination = example.test" in item.detail and "alice@mail.example.test is refused" in item.detail
    assert "$myhostname" in item.hint
