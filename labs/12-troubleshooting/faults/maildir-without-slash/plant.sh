set -e
# Delivery taken back from Dovecot to Postfix, into "Maildir" without its slash: a mailbox file.
postconf -X mailbox_transport
postconf -e home_mailbox=Maildir
postfix reload >/dev/null 2>&1
