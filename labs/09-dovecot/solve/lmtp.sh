# Reference solution: Dovecot listens for LMTP inside Postfix's queue folder and stores mail in
# ~/Maildir; Postfix's local(8) expands aliases, then hands mailbox delivery to Dovecot.
set -e
cat > /etc/dovecot/conf.d/99-lmtp.conf <<'CONF'
# Mail lives in each user's ~/Maildir.
mail_location = maildir:~/Maildir
protocol lmtp {
  # Postfix says RCPT TO:<alice@example.test>; the system user is alice.
  auth_username_format = %Ln
}
service lmtp {
  unix_listener /var/spool/postfix/private/dovecot-lmtp {
    mode = 0600
    user = postfix
    group = postfix
  }
}
CONF
doveadm reload
postconf -e mailbox_transport=lmtp:unix:private/dovecot-lmtp
postfix reload >/dev/null 2>&1
