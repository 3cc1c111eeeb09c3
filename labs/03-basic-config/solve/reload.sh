# Reference solution: the running Postfix reads main.cf again; a message to the domain proves it.
set -e
postfix reload 2>/dev/null || service postfix start >/dev/null
printf 'Subject: Hello domain\n\nThis server is the destination of example.test now.\n' | sendmail postmaster@example.test
for _ in $(seq 100); do
    grep -q '^Subject: Hello domain' /var/mail/root 2>/dev/null && exit 0
    sleep 0.1
done
echo "the message did not reach /var/mail/root within 10 s" >&2
exit 1
