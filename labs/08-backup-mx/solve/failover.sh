# Reference solution (mail1): take mail1's mail service down.
set -e
service postfix stop >/dev/null
