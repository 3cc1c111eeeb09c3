set -e
# Someone set Dovecot's protocols by hand and left IMAP out.
sed -i '/^!include_try \/usr\/share\/dovecot\/protocols.d/a protocols = pop3 lmtp' /etc/dovecot/dovecot.conf
grep -qx 'protocols = pop3 lmtp' /etc/dovecot/dovecot.conf
service dovecot restart >/dev/null 2>&1
