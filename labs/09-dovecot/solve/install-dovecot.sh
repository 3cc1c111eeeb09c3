# Reference solution: install Dovecot's IMAP, POP3 and LMTP servers, give it a log file, start it.
set -e
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd dovecot-pop3d dovecot-lmtpd >/dev/null
cat > /etc/dovecot/conf.d/99-log.conf <<'CONF'
# No syslog on this machine: Dovecot writes its own log file.
log_path = /var/log/dovecot.log
CONF
service dovecot restart >/dev/null 2>&1  # the daemon must not keep our output open
