# Starting state of lab 07: the machine has just moved into the lab network. Its /etc/resolv.conf
# names the lab's DNS server, but Postfix has been stopped since the move, and the copy of
# resolv.conf in Postfix's chroot is still the one from the old network.
set -e
service postfix stop >/dev/null
cat > /var/spool/postfix/etc/resolv.conf <<'OLD'
# The old network's DNS server (before this machine joined the lab network).
search example.test
nameserver 10.0.0.53
OLD
