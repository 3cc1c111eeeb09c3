set -e
postconf -X header_checks
rm -f /etc/postfix/header_checks
postfix reload >/dev/null 2>&1
