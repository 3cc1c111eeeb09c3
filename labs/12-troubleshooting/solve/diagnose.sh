# Reference solution: name the five faults (the notebook's table lists the ids).
set -e
mkdir -p /root/answers
cat > /root/answers/diagnosis.txt <<'TXT'
domain-not-local
lmtp-socket
aliases-not-rebuilt
mail-on-hold
maildir-permissions
TXT
