set -e
sed -i '/^protocols = pop3 lmtp$/d' /etc/dovecot/dovecot.conf
service dovecot restart >/dev/null 2>&1
