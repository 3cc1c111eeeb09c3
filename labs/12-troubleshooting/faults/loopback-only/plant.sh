set -e
# Postfix listens only on the loopback interface: nobody outside can connect.
postconf -e inet_interfaces=loopback-only
service postfix restart >/dev/null 2>&1
