# Reference solution: log to a file (no syslog here) and start Postfix the Debian way.
set -e
postconf -e maillog_file=/var/log/mail.log
# restart, not start: it also works when Postfix already runs, and it refreshes the chroot copies.
service postfix restart >/dev/null
