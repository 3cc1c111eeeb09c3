# Reference solution: Dovecot answers Postfix's password questions on a socket inside Postfix's
# queue folder (smtpd runs chrooted there), and Postfix is told to ask it.
set -e
cat > /etc/dovecot/conf.d/99-postfix-auth.conf <<'CONF'
# Postfix's smtpd asks Dovecot whether a user's password is right.
service auth {
  unix_listener /var/spool/postfix/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
# PLAIN for every client, LOGIN for older ones (Outlook).
auth_mechanisms = plain login
CONF
service dovecot restart >/dev/null 2>&1
postconf -e smtpd_sasl_type=dovecot smtpd_sasl_path=private/auth
postfix reload >/dev/null 2>&1
