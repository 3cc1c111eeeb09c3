# Reference solution: install Postfix as an Internet Site for example.test, without questions.
set -e
debconf-set-selections <<'SEL'
postfix postfix/main_mailer_type select Internet Site
postfix postfix/mailname string example.test
SEL
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
if [ ! -f /etc/postfix/main.cf ] || [ "$(cat /etc/mailname)" != example.test ]; then
    echo example.test > /etc/mailname
    rm -f /etc/postfix/main.cf
    DEBIAN_FRONTEND=noninteractive dpkg-reconfigure postfix >/dev/null 2>&1
fi
