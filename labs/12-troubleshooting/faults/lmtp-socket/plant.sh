set -e
# Dovecot's LMTP socket moved; Postfix still connects to the old path.
sed -i 's#private/dovecot-lmtp#private/dovecot_lmtp#' /etc/dovecot/conf.d/99-lmtp.conf
service dovecot restart >/dev/null 2>&1
rm -f /var/spool/postfix/private/dovecot-lmtp
