set -e
# alice's Maildir belongs to root now.
chown -R root:root /home/alice/Maildir
chmod 700 /home/alice/Maildir
