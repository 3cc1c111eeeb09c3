# Reference solution: one test message to alice with each tool, each with its own Subject.
set -e
command -v mail >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mailutils >/dev/null; }
printf 'Subject: Test 1: sendmail\n\nHello Alice, this came through sendmail.\n' | sendmail alice
echo 'Hello Alice, this came through mail.' | mail -s 'Test 2: mail' alice
swaks --server 127.0.0.1 --to alice@example.test --header 'Subject: Test 3: swaks' >/dev/null
for _ in $(seq 100); do
    [ "$(grep -c '^Subject: Test [123]: ' /var/mail/alice 2>/dev/null)" -ge 3 ] && exit 0
    sleep 0.1
done
echo "the three test messages did not all reach /var/mail/alice within 10 s" >&2
exit 1
