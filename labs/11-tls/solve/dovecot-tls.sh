# Reference solution: Dovecot presents the certificate made for Postfix, and takes passwords only
# over TLS (STARTTLS on 143 and 110, or TLS from the start on 993 and 995).
set -e
cat > /etc/dovecot/conf.d/99-tls.conf <<'CONF'
# TLS for every login: the certificate signed by the lab CA, passwords only inside TLS.
ssl = required
ssl_cert = </etc/ssl/certs/mail.example.test.pem
ssl_key = </etc/ssl/private/mail.example.test.key
disable_plaintext_auth = yes
CONF
# Lab 09 allowed passwords in clear text until now.
rm -f /etc/dovecot/conf.d/99-plaintext.conf
doveadm reload
