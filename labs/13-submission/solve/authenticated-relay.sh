# Reference solution: a client that logged in may relay, before the rule that refuses relaying.
set -e
postconf -e 'smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination'
postfix reload >/dev/null 2>&1
