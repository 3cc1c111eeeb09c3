# Starting state of lab 10 on office: a machine in the office network. It sends its mail through
# mail.example.test and runs no mail server of its own.
set -e
service postfix stop >/dev/null
