# Reference solution: start Postfix the Debian way, which copies /etc/resolv.conf into its chroot.
set -e
service postfix restart >/dev/null
