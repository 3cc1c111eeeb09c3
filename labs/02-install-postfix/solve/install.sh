# Reference solution: install Postfix as an Internet Site for example.test, without questions.
set -e
preseed() {
    debconf-set-selections <<'SEL'
postfix postfix/main_mailer_type select Internet Site
postfix postfix/mailname string example.test
SEL
}
preseed
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
if [ ! -f /etc/postfix/main.cf ] || [ "$(cat /etc/mailname)" != example.test ]; then
    # Installed before with other answers: start over. (`dpkg-reconfigure` would leave mydestination
    # and inet_protocols empty here, as debconf asks nothing on these machines.)
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq postfix >/dev/null
    preseed
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi
