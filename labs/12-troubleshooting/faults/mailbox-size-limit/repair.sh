set -e
postconf -X mailbox_size_limit
