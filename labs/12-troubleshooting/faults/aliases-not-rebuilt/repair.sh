set -e
newaliases
