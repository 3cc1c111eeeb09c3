# Starting state of lab 09: where labs 04 and 05 left the server. The lab starts after lab 05
# (starts_after = "addresses"): alice and bob with their passwords, lab 05's aliases (postmaster to
# root, root to alice, the sales list, alice.liddell), the shop.example.test virtual domain and
# alice's rewritten sender address. Lab 05 started from a fresh Postfix, so what labs 03 and 04 did
# is added here: the domain is local, and Postfix writes each user's ~/Maildir/ (lab 04's last step).
set -e
postconf -e 'mydestination = $myhostname, example.test, localhost.example.test, localhost' inet_interfaces=all \
    home_mailbox=Maildir/
service postfix restart >/dev/null
