# Reference solution: offer STARTTLS to every client (opportunistic TLS) and log each TLS session.
set -e
postconf -e smtpd_tls_security_level=may smtpd_tls_loglevel=1
postfix reload >/dev/null 2>&1
