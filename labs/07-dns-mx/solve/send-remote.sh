# Reference solution: send a message to a remote domain and wait until the log says it was sent.
set -e
printf 'Subject: Hello remote.test\n\nHello, this message went to the best MX host of remote.test.\n' \
    | sendmail user@remote.test
for _ in $(seq 100); do
    grep -q 'to=<user@remote.test>.*relay=mx1.remote.test.*status=sent' /var/log/mail.log && exit 0
    sleep 0.1
done
echo "the message to user@remote.test was not sent to mx1 within 10 s" >&2
exit 1
