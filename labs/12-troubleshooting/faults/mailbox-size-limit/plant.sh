set -e
# A mailbox limit smaller than the message limit: Postfix's local delivery refuses to run.
postconf -e mailbox_size_limit=5120000
postfix reload >/dev/null 2>&1
