set -e
sed -i 's#private/dovecot_lmtp#private/dovecot-lmtp#' /etc/dovecot/conf.d/99-lmtp.conf
service dovecot restart >/dev/null 2>&1
rm -f /var/spool/postfix/private/dovecot_lmtp
