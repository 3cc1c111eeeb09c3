# Reference solution: postscreen takes port 25 and hands the clients it trusts to smtpd; the
# helpers it needs (dnsblog for DNS lookups, tlsproxy for STARTTLS) are switched on, and a client
# the block list names is refused by postscreen itself.
set -e
postconf -M smtp/inet='smtp inet n - y - 1 postscreen' \
    smtpd/pass='smtpd pass - - y - - smtpd' \
    dnsblog/unix='dnsblog unix - - y - 0 dnsblog' \
    tlsproxy/unix='tlsproxy unix - - y - 0 tlsproxy'
postconf -e 'postscreen_dnsbl_sites = dnsbl.example.net*2' postscreen_dnsbl_threshold=2 \
    postscreen_dnsbl_action=enforce postscreen_greet_action=enforce
postfix reload >/dev/null 2>&1
