# Reference solution: trust only this machine itself, and refuse (5xx) relaying for anyone else.
set -e
postconf -e 'mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128' \
    'smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination'
postfix reload >/dev/null 2>&1
