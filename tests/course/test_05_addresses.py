"""Lab 05 on real machines: the mistakes people make with aliases, virtual domains and canonical
maps FAIL with a hint that names the actual problem."""
import pytest

from grader.result import Status

from .conftest import first_problem, sh

pytestmark = pytest.mark.machine

ALIASES_DONE = ("sed -i '/^\\(root\\|sales\\):/d' /etc/aliases"
                " && printf 'root: alice\\nsales: alice, bob\\n' >> /etc/aliases")
VIRTUAL_TABLE = ("printf 'info@shop.example.test alice\\norders@shop.example.test bob\\n' > /etc/postfix/virtual"
                 " && postmap /etc/postfix/virtual")
VIRTUAL_CONF = "postconf -e virtual_alias_domains=shop.example.test virtual_alias_maps=hash:/etc/postfix/virtual"
CANONICAL_TABLE = ("echo 'alice@example.test alice.liddell@example.test' > /etc/postfix/sender_canonical"
                   " && postmap /etc/postfix/sender_canonical")
REPLY_ALIAS = "echo 'alice.liddell: alice' >> /etc/aliases && newaliases"


# Wrong states hunted per step: (test function, why it is wrong although it looks right).
HUNTED = {
    "aliases": [
        ("test_aliases_edited_without_newaliases", "/etc/aliases reads right, but Postfix still uses the old aliases.db"),
        ("test_a_misspelt_alias_target_bounces_and_is_named", "root: alcie looks right at a glance; mail for root and postmaster bounces"),
        ("test_postmaster_alias_removed", "root reaches alice, mail for postmaster piles up in a mailbox nobody owns"),
        ("test_alias_maps_pointing_elsewhere", "/etc/aliases is right, Postfix reads another file"),
        ("test_newaliases_builds_another_database", "newaliases runs without error but rebuilds a table Postfix does not read"),
        ("test_a_list_that_reaches_only_one_member", "sales@ reaches alice, so it seems to work, but bob never gets it"),
        ("test_root_aliased_to_a_system_account_is_not_a_person", "mail for root is delivered, to nobody's mailbox that no person reads"),
        ("test_outside_client.py::test_lab05_aliases_loopback_only", "the aliases work from sendmail inside, other computers cannot send to them"),
    ],
    "virtual-domain": [
        ("test_shop_domain_also_in_mydestination", "the domain is listed twice: local wins and the virtual table is ignored"),
        ("test_virtual_table_edited_without_postmap", "the text table is right, the built table Postfix reads is old"),
        ("test_virtual_table_never_built", "the text table exists but there is no .db for Postfix to read"),
        ("test_virtual_settings_not_reloaded", "main.cf is right, the running Postfix does not know the domain yet"),
        ("test_a_shop_address_missing_from_the_table", "info@ reaches alice, orders@ bounces: one of two addresses forgotten"),
        ("test_shop_addresses_swapped", "both addresses deliver, but each to the other person"),
        ("test_a_catch_all_sends_the_whole_shop_to_alice", "info@ reaches alice as it should, orders@ also goes to alice, bob gets nothing"),
        ("test_outside_client.py::test_lab05_virtual_domain_strangers_rejected", "the domain works inside, strangers on the Internet are refused"),
    ],
    "canonical": [
        ("test_recipient_canonical_instead_of_sender", "a canonical table is configured, but it rewrites recipients, not senders"),
        ("test_canonical_table_not_rebuilt", "the text table says alice.liddell, the built table Postfix reads does not"),
        ("test_a_key_that_does_not_match_rewrites_nothing", "the table looks right but its key never matches alice's address"),
        ("test_only_the_envelope_rewritten", "MAIL FROM is rewritten, the From: header people see still says alice@"),
        ("test_replies_to_the_new_address_bounce_without_an_alias", "mail leaves as alice.liddell, replies to that address bounce"),
        ("test_the_whole_domain_rewritten_to_alice", "alice's mail is rewritten right, and bob's mail also leaves as alice.liddell"),
    ],
}

@pytest.fixture
def lab05(lab_session):
    return lab_session("addresses")


def test_aliases_edited_without_newaliases(lab05):
    """Does an edit of /etc/aliases without `newaliases` fail, naming aliases.db?"""
    lab05.reset("aliases")
    sh(lab05, ALIASES_DONE + " && touch -d '+2 seconds' /etc/aliases")
    item = first_problem(lab05, "aliases")
    assert item.name == "aliases_db_is_up_to_date"
    assert "/etc/aliases is newer than /etc/aliases.db" in item.detail and "`newaliases`" in item.hint


def test_a_misspelt_alias_target_bounces_and_is_named(lab05):
    lab05.reset("aliases")
    sh(lab05, "printf 'root: alcie\\nsales: alice, bob\\n' >> /etc/aliases && newaliases")
    item = first_problem(lab05, "aliases")
    assert item.name == "mail_for_root_and_postmaster_reaches_a_person"
    assert "bounced" in item.detail and 'unknown user: "alcie"' in item.hint and "spelling" in item.hint


def test_postmaster_alias_removed(lab05):
    """Postfix never bounces mail for postmaster: without an alias it lands in /var/mail/postmaster,
    which belongs to no account."""
    lab05.reset("aliases")
    sh(lab05, "sed -i '/^postmaster:/d' /etc/aliases && " + ALIASES_DONE + " && newaliases")
    item = first_problem(lab05, "aliases")
    assert item.name == "mail_for_root_and_postmaster_reaches_a_person"
    assert "/var/mail/postmaster, and there is no account postmaster" in item.detail
    assert "postmaster: root" in item.hint


def test_alias_maps_pointing_elsewhere(lab05):
    """The learner's aliases are right, but Postfix reads another file."""
    lab05.reset("aliases")
    sh(lab05, ALIASES_DONE + " && newaliases && cp /etc/aliases /etc/postfix/aliases && postalias /etc/postfix/aliases"
              " && postconf -e alias_maps=hash:/etc/postfix/aliases && postfix reload")
    item = first_problem(lab05, "aliases")
    assert item.name == "postfix_reads_etc_aliases"
    assert "hash:/etc/postfix/aliases" in item.detail and "alias_maps=hash:/etc/aliases" in item.hint


def test_newaliases_builds_another_database(lab05):
    lab05.reset("aliases")
    sh(lab05, "postconf -e alias_database=hash:/etc/postfix/aliases")
    item = first_problem(lab05, "aliases")
    assert item.name == "postfix_reads_etc_aliases" and "alias_database" in item.hint


def test_a_list_that_reaches_only_one_member(lab05):
    lab05.reset("aliases")
    sh(lab05, "printf 'root: alice\\nsales: alice\\n' >> /etc/aliases && newaliases")
    item = first_problem(lab05, "aliases")
    assert item.name == "sales_list_reaches_alice_and_bob"
    assert "not bob" in item.detail and "sales: alice, bob" in item.hint


def test_root_aliased_to_a_system_account_is_not_a_person(lab05):
    lab05.reset("aliases")
    sh(lab05, "printf 'root: nobody\\n' >> /etc/aliases && newaliases")
    item = first_problem(lab05, "aliases")
    assert item.name == "mail_for_root_and_postmaster_reaches_a_person"
    assert "/var/mail/nobody" in item.detail


def test_shop_domain_also_in_mydestination(lab05):
    """The classic: a domain listed as local and as a virtual alias domain."""
    lab05.reset("virtual-domain")
    sh(lab05, VIRTUAL_TABLE + " && " + VIRTUAL_CONF +
              " && postconf -e 'mydestination = $myhostname, example.test, shop.example.test, localhost'"
              " && postfix reload")
    item = first_problem(lab05, "virtual-domain")
    assert item.name == "shop_domain_is_not_also_local"
    assert "shop.example.test" in item.detail and "BOTH" in item.hint


def test_virtual_table_edited_without_postmap(lab05):
    lab05.reset("virtual-domain")
    sh(lab05, VIRTUAL_TABLE + " && echo 'sales@shop.example.test alice' >> /etc/postfix/virtual"
              " && touch -d '+2 seconds' /etc/postfix/virtual && " + VIRTUAL_CONF + " && postfix reload")
    item = first_problem(lab05, "virtual-domain")
    assert item.name == "virtual_table_is_built"
    assert "virtual is newer than" in item.detail and "postmap /etc/postfix/virtual" in item.hint


def test_virtual_table_never_built(lab05):
    lab05.reset("virtual-domain")
    sh(lab05, "printf 'info@shop.example.test alice\\n' > /etc/postfix/virtual && " + VIRTUAL_CONF + " && postfix reload")
    item = first_problem(lab05, "virtual-domain")
    assert item.name == "virtual_table_is_built" and "never built" in item.detail


def test_virtual_settings_not_reloaded(lab05):
    """main.cf changed, but Postfix still runs with the old one."""
    lab05.reset("virtual-domain")
    # Postfix's master starts qmgr just after the machine boots: change main.cf only once it runs.
    sh(lab05, "for i in $(seq 100); do pgrep -x qmgr >/dev/null && break; sleep 0.05; done; sleep 0.1; "
              + VIRTUAL_TABLE + " && " + VIRTUAL_CONF)
    item = first_problem(lab05, "virtual-domain")
    assert item.name == "main_cf_is_live_for_the_virtual_domain"
    assert "postfix reload" in item.hint


def test_a_shop_address_missing_from_the_table(lab05):
    lab05.reset("virtual-domain")
    sh(lab05, "printf 'info@shop.example.test alice\\n' > /etc/postfix/virtual && postmap /etc/postfix/virtual && "
              + VIRTUAL_CONF + " && postfix reload")
    item = first_problem(lab05, "virtual-domain")
    assert item.name == "shop_addresses_reach_their_people"
    assert "User unknown in virtual alias table" in item.detail and "orders@shop.example.test bob" in item.hint


def test_recipient_canonical_instead_of_sender(lab05):
    lab05.reset("canonical")
    sh(lab05, CANONICAL_TABLE + " && postconf -e recipient_canonical_maps=hash:/etc/postfix/sender_canonical"
              " && postfix reload")
    item = first_problem(lab05, "canonical")
    assert item.name == "sender_rewriting_is_configured"
    assert "recipient_canonical_maps" in item.detail and "sender_canonical_maps" in item.hint


def test_canonical_table_not_rebuilt(lab05):
    lab05.reset("canonical")
    sh(lab05, "echo 'bob@example.test bob@example.test' > /etc/postfix/sender_canonical"
              " && postmap /etc/postfix/sender_canonical"
              " && echo 'alice@example.test alice.liddell@example.test' > /etc/postfix/sender_canonical"
              " && touch -d '+2 seconds' /etc/postfix/sender_canonical"
              " && postconf -e sender_canonical_maps=hash:/etc/postfix/sender_canonical && postfix reload")
    item = first_problem(lab05, "canonical")
    assert item.name == "canonical_table_is_built" and "postmap /etc/postfix/sender_canonical" in item.hint


def test_a_key_that_does_not_match_rewrites_nothing(lab05):
    """The table says alice@mail.example.test: the capture server sees the old sender, and the
    hint shows what the table answers for alice@example.test."""
    lab05.reset("canonical")
    sh(lab05, "echo 'alice@mail.example.test alice.liddell@example.test' > /etc/postfix/sender_canonical"
              " && postmap /etc/postfix/sender_canonical && " + REPLY_ALIAS +
              " && postconf -e sender_canonical_maps=hash:/etc/postfix/sender_canonical && postfix reload")
    item = first_problem(lab05, "canonical")
    assert item.name == "outgoing_mail_shows_the_new_sender"
    assert "MAIL FROM:<alice@example.test>" in item.detail
    assert "gives nothing" in item.hint


def test_only_the_envelope_rewritten(lab05):
    """sender_canonical_classes without header_sender: the envelope changes, the From: header does not."""
    lab05.reset("canonical")
    sh(lab05, CANONICAL_TABLE + " && " + REPLY_ALIAS +
              " && postconf -e sender_canonical_maps=hash:/etc/postfix/sender_canonical"
              " sender_canonical_classes=envelope_sender && postfix reload")
    item = first_problem(lab05, "canonical")
    assert item.name == "outgoing_mail_shows_the_new_sender"
    assert "MAIL FROM:<alice.liddell@example.test>" in item.detail and "header_sender" in item.hint


def test_replies_to_the_new_address_bounce_without_an_alias(lab05):
    lab05.reset("canonical")
    sh(lab05, CANONICAL_TABLE + " && postconf -e sender_canonical_maps=hash:/etc/postfix/sender_canonical"
              " && postfix reload")
    result = lab05.check("canonical")
    assert result.status is Status.FAIL
    item = result.first_problem
    assert item.name == "replies_to_the_new_address_reach_alice"
    assert "alice.liddell" in item.detail and "alice.liddell: alice" in item.hint
    assert all(i.status is Status.PASS for i in result.items[:-1])  # the rewriting itself works


def test_the_whole_domain_rewritten_to_alice(lab05):
    """`@example.test alice.liddell@example.test` rewrites alice right, and bob's mail too: bob's
    letters now say they come from alice."""
    lab05.reset("canonical")
    sh(lab05, "echo '@example.test alice.liddell@example.test' > /etc/postfix/sender_canonical"
              " && postmap /etc/postfix/sender_canonical && " + REPLY_ALIAS +
              " && postconf -e sender_canonical_maps=hash:/etc/postfix/sender_canonical && postfix reload")
    item = first_problem(lab05, "canonical")
    assert item.name == "outgoing_mail_from_bob_keeps_his_sender"
    assert "MAIL FROM:<alice.liddell@example.test>" in item.detail and "@example.test" in item.hint


def test_shop_addresses_swapped(lab05):
    """Both addresses exist and deliver, but info@ goes to bob and orders@ to alice."""
    lab05.reset("virtual-domain")
    sh(lab05, "printf 'info@shop.example.test bob\\norders@shop.example.test alice\\n' > /etc/postfix/virtual"
              " && postmap /etc/postfix/virtual && " + VIRTUAL_CONF + " && postfix reload")
    item = first_problem(lab05, "virtual-domain")
    assert item.name == "shop_addresses_reach_their_people"
    assert "info@shop.example.test reached bob, not alice" in item.detail


def test_a_catch_all_sends_the_whole_shop_to_alice(lab05):
    """`@shop.example.test alice`: info@ reaches alice, so does orders@ (and any typo); bob gets nothing."""
    lab05.reset("virtual-domain")
    sh(lab05, "printf '@shop.example.test alice\\n' > /etc/postfix/virtual"
              " && postmap /etc/postfix/virtual && " + VIRTUAL_CONF + " && postfix reload")
    item = first_problem(lab05, "virtual-domain")
    assert item.name == "shop_addresses_reach_their_people"
    assert "orders@shop.example.test reached alice, not bob" in item.detail
