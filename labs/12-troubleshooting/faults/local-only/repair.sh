set -e
postconf -X default_transport relay_transport
