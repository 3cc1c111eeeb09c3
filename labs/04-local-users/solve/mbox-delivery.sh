# Reference solution: send alice and bob a message and wait until it is in both mbox files.
set -e
printf 'Subject: Welcome to example.test\n\nHello, your mailbox works.\n' | sendmail alice@example.test bob@example.test
for _ in $(seq 100); do
    grep -q '^Subject: Welcome to example.test' /var/mail/alice 2>/dev/null \
        && grep -q '^Subject: Welcome to example.test' /var/mail/bob 2>/dev/null && exit 0
    sleep 0.1
done
echo "the message did not reach /var/mail/alice and /var/mail/bob within 10 s" >&2
exit 1
