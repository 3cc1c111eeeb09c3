# Reference solution: root's mail to alice, postmaster to root (so to alice too), and a sales list.
set -e
set_alias() {  # set_alias NAME "TARGETS": replace the line for NAME, or add it
    sed -i "/^$1:/d" /etc/aliases
    echo "$1: $2" >> /etc/aliases
}
set_alias postmaster root
set_alias root alice
set_alias sales "alice, bob"
newaliases
# A local delivery process that opened the alias table in this same second would not notice the
# rebuild (Postfix compares whole seconds); a reload starts them afresh. By hand you never need it.
postfix reload >/dev/null 2>&1
# Postfix's default already reads /etc/aliases; set it only where someone changed it.
if [ "$(postconf -h alias_maps)" != hash:/etc/aliases ] || [ "$(postconf -h alias_database)" != hash:/etc/aliases ]; then
    postconf -e alias_maps=hash:/etc/aliases alias_database=hash:/etc/aliases
    postfix reload >/dev/null 2>&1
fi
