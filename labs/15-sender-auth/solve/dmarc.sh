# Reference solution: a DMARC record for example.test: mail from example.test that fails both SPF
# and DKIM (aligned with the From: domain) goes to the receiver's spam folder; reports go to postmaster.
set -e
zone=/etc/nsd/example.test.zone
sed -i '/^_dmarc/d' "$zone"
echo '_dmarc  IN  TXT  "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.test"' >> "$zone"
nsd-checkzone example.test "$zone" >/dev/null
nsd-control reload example.test >/dev/null
