set -e
chown -R alice:alice /home/alice/Maildir
