# Reference solution: publish that only example.test's MX host sends its mail (and nobody else:
# -all), then let Postfix ask policyd-spf about the sender of every message that comes in.
set -e
zone=/etc/nsd/example.test.zone
sed -i '/v=spf1/d' "$zone"
echo '@       IN  TXT  "v=spf1 mx -all"' >> "$zone"
nsd-checkzone example.test "$zone" >/dev/null
nsd-control reload example.test >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix-policyd-spf-python >/dev/null
postconf -M policyd-spf/unix='policyd-spf unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf'
postconf -e policyd-spf_time_limit=3600 \
    'smtpd_recipient_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination reject_rbl_client dnsbl.example.net check_policy_service unix:private/policyd-spf'
postfix reload >/dev/null 2>&1
