set -e
# A new alias in /etc/aliases, but the alias database was not rebuilt.
echo 'support: alice' >> /etc/aliases
touch -d '-1 minute' /etc/aliases.db
