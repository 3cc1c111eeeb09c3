# Starting state: Postfix as a quick install leaves it on a machine that only knows its bare host
# name. It calls itself "mail", signs mail from root as root@mail, and does not accept mail for
# example.test. (The identity lab 02 chose is taken back, so this lab can teach it.)
set -e
postconf -X mydomain
postconf -e myhostname=mail 'myorigin = $myhostname' 'mydestination = $myhostname, localhost'
service postfix restart >/dev/null
