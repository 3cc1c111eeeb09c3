# Starting state of lab 10 on mail: the users alice and bob, and an OPEN RELAY. Someone "fixed" a
# complaint that the office could not send mail by trusting every address on the Internet.
set -e
for user in alice bob; do
    id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
done
printf 'alice:alice123\nbob:bob123\n' | chpasswd
postconf -e 'mynetworks = 0.0.0.0/0' smtp_connect_timeout=5s
service postfix restart >/dev/null
