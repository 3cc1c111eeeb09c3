# Reference solution: mail from alice@example.test leaves as alice.liddell@example.test, and
# replies to that address reach alice.
set -e
echo 'alice@example.test    alice.liddell@example.test' > /etc/postfix/sender_canonical
postmap /etc/postfix/sender_canonical
sed -i '/^alice\.liddell:/d' /etc/aliases
echo 'alice.liddell: alice' >> /etc/aliases
newaliases
# Tables first, main.cf last: Postfix's table commands wait a moment after main.cf changes.
postconf -e sender_canonical_maps=hash:/etc/postfix/sender_canonical
postfix reload >/dev/null 2>&1
