# Reference solution: a message to carol (no such user) bounces back to root; the reason from the
# log goes into the answer file; then carol's mail goes to alice through an alias.
set -e
wait_for() {  # wait_for PATTERN: until the log has a line matching it (10 s at most)
    for _ in $(seq 100); do grep -q "$1" /var/log/mail.log && return 0; sleep 0.1; done
    echo "no log line matching $1 within 10 s" >&2; return 1
}
if ! grep -q 'to=<carol@example.test>.*status=bounced' /var/log/mail.log; then
    if grep -q '^carol:' /etc/aliases; then sed -i '/^carol:/d' /etc/aliases && newaliases; fi
    echo 'Hello Carol, welcome aboard!' | mail -s 'Welcome Carol' carol
    wait_for 'to=<carol@example.test>.*status=bounced'
fi
wait_for 'sender non-delivery notification'
mkdir -p /root/answers
grep 'to=<carol@example.test>.*status=bounced' /var/log/mail.log | tail -n 1 \
    | sed 's/.*status=bounced (\(.*\))$/\1/' > /root/answers/bounce-reason.txt
sed -i '/^carol:/d' /etc/aliases
echo 'carol: alice' >> /etc/aliases
newaliases
# A local delivery process that opened the alias table in this same second would not notice the
# rebuild (Postfix compares whole seconds); a reload starts them afresh. By hand you never need it.
postfix reload >/dev/null 2>&1
