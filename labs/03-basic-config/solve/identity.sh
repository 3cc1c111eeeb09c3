# Reference solution: name the server mail.example.test in the domain example.test; mail from
# local users leaves as user@example.test. (Not live yet: the reload step does that.)
set -e
postconf -e myhostname=mail.example.test mydomain=example.test 'myorigin = $mydomain'
