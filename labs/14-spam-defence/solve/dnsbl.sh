# Reference solution: after the relay rules, ask the lab's block list about every client.
set -e
postconf -e 'smtpd_recipient_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination reject_rbl_client dnsbl.example.net'
postfix reload >/dev/null 2>&1
