# Reference solution: repair each fault, make the changes live, then let the held mail go.
set -e
# mydestination spelt right again (and the misspelt key gone).
sed -i 's/^mydestinaton *=/mydestination =/' /etc/postfix/main.cf
# Postfix and Dovecot agree on the LMTP socket again.
sed -i 's#private/dovecot_lmtp#private/dovecot-lmtp#' /etc/dovecot/conf.d/99-lmtp.conf
doveadm reload
# The alias database rebuilt from /etc/aliases.
newaliases
# No rule holds every message.
postconf -X header_checks
rm -f /etc/postfix/header_checks
# alice's Maildir is hers again.
chown -R alice:alice /home/alice/Maildir
postfix reload >/dev/null 2>&1
# Release the held messages and deliver them now.
postsuper -H ALL 2>/dev/null
postqueue -f
for _ in $(seq 100); do [ -z "$(postqueue -j)" ] && exit 0; sleep 0.1; done
echo "the queue did not empty within 10 s" >&2
postqueue -p >&2
exit 1
