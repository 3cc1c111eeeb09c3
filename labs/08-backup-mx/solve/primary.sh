# Reference solution (mail1): mail1 is the final destination for example.test.
set -e
postconf -e 'mydestination = $myhostname, example.test, localhost'
# A stopped Postfix (mail1 is down on purpose from the failover step on) reads main.cf when it starts again.
if postfix status >/dev/null 2>&1; then postfix reload >/dev/null 2>&1; fi
