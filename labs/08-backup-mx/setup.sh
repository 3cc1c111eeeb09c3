# Starting state of lab 08 on mail1: a new server, mail1.example.test, with the users alice and bob.
# It takes mail only for its own names so far.
set -e
for user in alice bob; do
    id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
done
printf 'alice:alice123\nbob:bob123\n' | chpasswd
postconf -e myhostname=mail1.example.test 'mydestination = $myhostname, localhost' smtp_connect_timeout=5s
service postfix restart >/dev/null
