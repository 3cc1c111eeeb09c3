# Reference solution: remote.test's MX records, lowest preference first, without the final dots.
set -e
mkdir -p /root/answers
dig +short MX remote.test | sort -n | sed 's/\.$//' > /root/answers/mx.txt
test -s /root/answers/mx.txt
