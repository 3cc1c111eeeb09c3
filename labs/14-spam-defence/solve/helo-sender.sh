# Reference solution: a client must greet first; a HELO name that cannot be a host name and a
# sender that is not a full address, or whose domain does not exist, are refused. Your own users
# (mynetworks, logged in) are let through first: a laptop greets with a bare name.
set -e
postconf -e smtpd_helo_required=yes \
    'smtpd_helo_restrictions = permit_mynetworks permit_sasl_authenticated reject_invalid_helo_hostname' \
    'smtpd_sender_restrictions = permit_mynetworks permit_sasl_authenticated reject_non_fqdn_sender reject_unknown_sender_domain'
postfix reload >/dev/null 2>&1
