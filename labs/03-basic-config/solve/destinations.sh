# Reference solution: this server is the final destination of mail for its own names and domain.
set -e
postconf -e 'mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain'
