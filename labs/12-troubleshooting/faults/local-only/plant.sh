set -e
# Outgoing mail switched off, the way a "Local only" install leaves it.
postconf -e default_transport=error relay_transport=error
postfix reload >/dev/null 2>&1
