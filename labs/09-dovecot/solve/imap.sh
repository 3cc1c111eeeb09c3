# Reference solution: Dovecot creates and subscribes the folders every mail client expects.
set -e
cat > /etc/dovecot/conf.d/99-folders.conf <<'CONF'
namespace inbox {
  mailbox Drafts {
    auto = subscribe
  }
  mailbox Sent {
    auto = subscribe
  }
  mailbox Junk {
    auto = subscribe
  }
  mailbox Trash {
    auto = subscribe
  }
}
CONF
doveadm reload
