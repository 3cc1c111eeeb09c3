# Reference solution (mail2): a message for alice arrives while mail1 is down, and waits in the queue.
set -e
printf 'From: friend@client.example\nTo: alice@example.test\nSubject: While mail1 was down\n\nThis message waited on mail2.\n' \
    | sendmail -f friend@client.example alice@example.test
for _ in $(seq 150); do
    postqueue -j | grep -q '"queue_name": "deferred"' && exit 0
    sleep 0.1
done
echo "the message did not wait in mail2's deferred queue within 15 s" >&2
exit 1
