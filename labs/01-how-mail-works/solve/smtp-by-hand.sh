# Reference solution: the SMTP conversation a learner types. The server's greeting names a word
# (new for each connection) that the Subject must repeat, so the greeting is read first.
set -e
exec 3<>/dev/tcp/mx1.remote.test/25
read -r -t 10 greeting <&3
word=$(printf '%s' "$greeting" | sed -n "s/.*the word '\([a-z]*\)'.*/\1/p")
printf '%s\r\n' 'HELO mail.example.test' 'MAIL FROM:<root@example.test>' 'RCPT TO:<postmaster@remote.test>' \
    'DATA' 'From: root@example.test' 'To: postmaster@remote.test' "Subject: SMTP by hand, $word" '' \
    'Hello from mail.example.test, typed by hand.' '.' 'QUIT' >&3
timeout 10 cat <&3
