set -e
postconf -e inet_interfaces=all
service postfix restart >/dev/null 2>&1
