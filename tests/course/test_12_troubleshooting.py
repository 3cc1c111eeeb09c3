"""Lab 12 on real machines: a diagnosis with a wrong or missing fault, and half-done repairs."""
import pytest

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine
ANSWERS = "/root/answers/diagnosis.txt"


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
