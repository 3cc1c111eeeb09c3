# Reference solution: give up on a silent MX host after 5 seconds (the default is 30), and make it live.
set -e
postconf -e smtp_connect_timeout=5s
postfix reload >/dev/null 2>&1
