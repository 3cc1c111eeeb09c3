# Reference solution: name the faults this machine was given ($MAILLAB_DRAWN: the ids from the
# notebook's table).
set -e
mkdir -p /root/answers
printf '%s\n' $MAILLAB_DRAWN > /root/answers/diagnosis.txt
