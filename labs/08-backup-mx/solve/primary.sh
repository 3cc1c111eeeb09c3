# Reference solution (mail1): mail1 is the final destination for example.test.
set -e
postconf -e 'mydestination = $myhostname, example.test, localhost'
postfix reload >/dev/null 2>&1
