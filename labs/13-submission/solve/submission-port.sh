# Reference solution: the submission service on port 587 in master.cf, with its own settings (-o):
# TLS before anything else, AUTH only inside TLS, and nobody served who has not logged in.
set -e
postconf -M submission/inet="submission inet n - y - - smtpd"
postconf -P submission/inet/syslog_name=postfix/submission \
    submission/inet/smtpd_tls_security_level=encrypt \
    submission/inet/smtpd_sasl_auth_enable=yes \
    submission/inet/smtpd_tls_auth_only=yes \
    submission/inet/smtpd_client_restrictions=permit_sasl_authenticated,reject
postfix reload >/dev/null 2>&1
