set -e
# The LMTP socket now belongs to dovecot with mode 0600: Postfix may not connect to it.
sed -i '/unix_listener .*lmtp/,/}/ s/^\( *user *= *\)postfix/\1dovecot/' /etc/dovecot/conf.d/99-lmtp.conf
grep -q 'user = dovecot' /etc/dovecot/conf.d/99-lmtp.conf
service dovecot restart >/dev/null 2>&1
