# Reference solution (mail2): relay for example.test (not a final destination), and only for the
# recipients that exist on mail1.
set -e
cat > /etc/postfix/relay_recipients <<'LIST'
alice@example.test      OK
bob@example.test        OK
postmaster@example.test OK
LIST
postmap /etc/postfix/relay_recipients
postconf -e relay_domains=example.test relay_recipient_maps=hash:/etc/postfix/relay_recipients
# A stopped Postfix (after a reset to a later step) reads main.cf when it starts again.
if postfix status >/dev/null 2>&1; then postfix reload >/dev/null 2>&1; fi
