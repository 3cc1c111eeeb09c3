set -e
# The key mydestination misspelt: example.test is not a local domain any more.
sed -i 's/^mydestination *=/mydestinaton =/' /etc/postfix/main.cf
postfix reload >/dev/null 2>&1
