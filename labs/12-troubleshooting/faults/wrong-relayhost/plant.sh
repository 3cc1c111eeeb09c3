set -e
# Outgoing mail sent through a provider's relay that does not exist.
postconf -e 'relayhost = [smtp.provider.invalid]'
postfix reload >/dev/null 2>&1
