set -e
sed -i '/unix_listener .*lmtp/,/}/ s/^\( *user *= *\)dovecot/\1postfix/' /etc/dovecot/conf.d/99-lmtp.conf
service dovecot restart >/dev/null 2>&1
