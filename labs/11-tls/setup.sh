# Starting state of lab 11: the mail server of lab 09 (Postfix hands mail to Dovecot) without TLS
# in Postfix yet, and the lab's own certificate authority in /root/lab-ca.
set -e
postconf -X smtpd_tls_cert_file smtpd_tls_key_file smtpd_tls_security_level
postfix reload >/dev/null 2>&1
# The lab CA: in real life a CA such as Let's Encrypt signs certificates; here a small CA of the
# lab's own does, and the outside client trusts it.
mkdir -p /root/lab-ca
cd /root/lab-ca
if [ ! -f ca.crt ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/O=MailLab/CN=MailLab Lab CA" \
        -keyout ca.key -out ca.crt 2>/dev/null
fi
chmod 600 ca.key
chmod 644 ca.crt
