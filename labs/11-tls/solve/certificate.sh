# Reference solution: a key that only root can read, a certificate for mail.example.test signed by
# the lab CA, and Postfix told where both are.
set -e
key=/etc/ssl/private/mail.example.test.key
csr=/root/lab-ca/mail.example.test.csr
crt=/etc/ssl/certs/mail.example.test.pem
(umask 077 && openssl genrsa -out "$key" 2048 2>/dev/null)
openssl req -new -key "$key" -subj "/CN=mail.example.test" -out "$csr"
printf 'subjectAltName = DNS:mail.example.test\n' > /root/lab-ca/mail.ext
openssl x509 -req -in "$csr" -CA /root/lab-ca/ca.crt -CAkey /root/lab-ca/ca.key -CAcreateserial \
    -days 365 -extfile /root/lab-ca/mail.ext -out "$crt" 2>/dev/null
chmod 600 "$key"
postconf -e "smtpd_tls_cert_file=$crt" "smtpd_tls_key_file=$key"
postfix reload >/dev/null 2>&1
