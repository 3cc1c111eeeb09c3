# Reference solution: send root a message and wait until it is in /var/mail/root.
set -e
printf 'Subject: My first mail\n\nHello root, this is my first message through Postfix.\n' | sendmail root
for _ in $(seq 100); do
    grep -q '^Subject: My first mail' /var/mail/root 2>/dev/null && exit 0
    sleep 0.1
done
echo "the message did not reach /var/mail/root within 10 s" >&2
exit 1
