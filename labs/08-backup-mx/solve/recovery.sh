# Reference solution (mail1): mail1's mail service is back.
set -e
postfix status >/dev/null 2>&1 || service postfix start >/dev/null
