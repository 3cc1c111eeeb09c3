# Reference solution: deliver into ~/Maildir/ (the trailing slash means Maildir, not an mbox file).
set -e
postconf -e home_mailbox=Maildir/
postfix reload 2>/dev/null || service postfix start >/dev/null
