# Reference solution: the office network, 192.0.2.0/24, is trusted too.
set -e
postconf -e 'mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128 192.0.2.0/24'
postfix reload >/dev/null 2>&1
