# Starting state of lab 12: the working server of lab 09, then five faults at once. Kept together
# here so the lab is one readable story (the notebook does not show this file).
set -e
queue_empty() { [ -z "$(postqueue -j)" ]; }
wait_queue() { for _ in $(seq 100); do queue_empty && return 0; sleep 0.1; done; return 1; }

# alice had mail before the trouble began: her Maildir exists.
printf 'Subject: Welcome to mail.example.test\nMessage-Id: <welcome.maillab@example.test>\n\nHello alice.\n' \
    | sendmail alice
wait_queue

# Fault: a header check meant for one spammer holds every message (and two messages for alice wait).
printf '/^From:/ HOLD quarantine\n' > /etc/postfix/header_checks
postconf -e header_checks=regexp:/etc/postfix/header_checks
postfix reload >/dev/null 2>&1
sleep 1
for n in 1 2; do
    printf 'From: bob@example.test\nSubject: Lunch on Friday (%s)\nMessage-Id: <held-%s.maillab@example.test>\n\nShall we?\n' \
        "$n" "$n" | sendmail -f bob@example.test alice
done
for _ in $(seq 100); do [ "$(postqueue -j | grep -c '"queue_name": "hold"')" = 2 ] && break; sleep 0.1; done

# Fault: a new alias in /etc/aliases, but aliases.db was not rebuilt.
echo 'support: alice' >> /etc/aliases
touch -d '-1 minute' /etc/aliases.db

# Fault: the key mydestination is misspelt, so example.test is not a local domain any more.
sed -i 's/^mydestination *=/mydestinaton =/' /etc/postfix/main.cf

# Fault: Dovecot's LMTP socket moved; Postfix still connects to the old path.
sed -i 's#private/dovecot-lmtp#private/dovecot_lmtp#' /etc/dovecot/conf.d/99-lmtp.conf

# Fault: alice's Maildir belongs to root now.
chown -R root:root /home/alice/Maildir
chmod 700 /home/alice/Maildir

service dovecot restart >/dev/null 2>&1
rm -f /var/spool/postfix/private/dovecot-lmtp
service postfix restart >/dev/null 2>&1
