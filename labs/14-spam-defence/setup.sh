# Starting state of lab 14: the server of lab 13 (port 25 for mail to example.test, port 587 for
# users who log in over TLS). No HELO or sender rules, no block list and no postscreen yet: port 25
# takes whatever a client sends, as long as it is for example.test.
set -e
postconf -X smtpd_helo_required smtpd_helo_restrictions smtpd_sender_restrictions smtpd_recipient_restrictions \
    postscreen_dnsbl_sites postscreen_dnsbl_threshold postscreen_dnsbl_action postscreen_greet_action
postfix reload >/dev/null 2>&1
