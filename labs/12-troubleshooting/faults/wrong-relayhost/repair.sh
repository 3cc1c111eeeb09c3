set -e
postconf -e 'relayhost ='
