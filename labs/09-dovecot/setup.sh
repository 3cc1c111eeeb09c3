# Starting state of lab 09: what the earlier labs taught. Two local users with passwords, and
# aliases for the domain (sales reaches both; info, postmaster and root reach alice).
set -e
for pair in alice:alice123 bob:bob123; do
    user=${pair%%:*}
    id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
    echo "$pair" | chpasswd
done
sed -i '/^\(root\|postmaster\|sales\|info\):/d' /etc/aliases
cat >> /etc/aliases <<'ALIASES'
root: alice
postmaster: alice
sales: alice, bob
info: alice
ALIASES
newaliases
postconf -e 'mydestination = $myhostname, example.test, localhost.example.test, localhost' inet_interfaces=all
service postfix restart >/dev/null
