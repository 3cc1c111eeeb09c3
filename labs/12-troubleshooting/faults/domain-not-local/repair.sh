set -e
sed -i 's/^mydestinaton *=/mydestination =/' /etc/postfix/main.cf
