# Reference solution: a key pair for the selector "mail", OpenDKIM signing example.test's mail with
# its private half, Postfix handing every message to OpenDKIM (a milter), the public half published.
set -e
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq opendkim opendkim-tools >/dev/null
[ -f /etc/dkimkeys/mail.private ] || opendkim-genkey -D /etc/dkimkeys -d example.test -s mail
chown opendkim:opendkim /etc/dkimkeys/mail.private
sed -i -E '/^(Domain|Selector|KeyFile|Socket)[[:space:]]/d' /etc/opendkim.conf
cat >> /etc/opendkim.conf <<'CONF'
Domain      example.test
Selector    mail
KeyFile     /etc/dkimkeys/mail.private
Socket      inet:8891@localhost
CONF
service opendkim restart >/dev/null
zone=/etc/nsd/example.test.zone
sed -i '/_domainkey/,/)/d' "$zone"
cat /etc/dkimkeys/mail.txt >> "$zone"
nsd-checkzone example.test "$zone" >/dev/null
nsd-control reload example.test >/dev/null
postconf -e smtpd_milters=inet:localhost:8891 non_smtpd_milters=inet:localhost:8891 milter_default_action=accept
postfix reload >/dev/null 2>&1
