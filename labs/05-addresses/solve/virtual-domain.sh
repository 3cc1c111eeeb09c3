# Reference solution: shop.example.test as a virtual alias domain, its addresses in a table.
set -e
cat > /etc/postfix/virtual <<'TABLE'
info@shop.example.test      alice
orders@shop.example.test    bob
TABLE
postmap /etc/postfix/virtual
postconf -e virtual_alias_domains=shop.example.test virtual_alias_maps=hash:/etc/postfix/virtual
postfix reload >/dev/null 2>&1
