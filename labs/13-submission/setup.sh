# Starting state of lab 13: the server of lab 11 (Postfix with the lab CA's certificate and
# STARTTLS, Dovecot for IMAP and POP3). Relaying is allowed only from the server itself, as lab 10
# taught: nobody else may relay yet, not even alice with her password.
set -e
postconf -e 'mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128' \
    'smtpd_relay_restrictions = permit_mynetworks reject_unauth_destination' smtp_connect_timeout=5s
postconf -X smtpd_sasl_auth_enable smtpd_sasl_type smtpd_sasl_path smtpd_tls_auth_only
postfix reload >/dev/null 2>&1
