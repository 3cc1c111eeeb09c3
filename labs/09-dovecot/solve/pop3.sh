# Reference solution: allow plain-text passwords without TLS (this lab's network only; lab 11 adds TLS).
set -e
cat > /etc/dovecot/conf.d/99-plaintext.conf <<'CONF'
# Passwords in clear text on a connection without TLS: only for the lab network, until lab 11.
disable_plaintext_auth = no
CONF
doveadm reload
