# Starting state of lab 08 on mail2: a second new server, mail2.example.test, with no users of its
# own. It takes mail only for its own names so far.
set -e
postconf -e myhostname=mail2.example.test 'mydestination = $myhostname, localhost' smtp_connect_timeout=5s
service postfix restart >/dev/null
