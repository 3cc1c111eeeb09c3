set -e
postconf -X home_mailbox
postconf -e mailbox_transport=lmtp:unix:private/dovecot-lmtp
