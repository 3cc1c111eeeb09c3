# Reference solution: the SMTP conversation a learner types, sent line by line with nc.
set -e
printf '%s\r\n' 'HELO mail.example.test' 'MAIL FROM:<root@example.test>' 'RCPT TO:<postmaster@remote.test>' \
    'DATA' 'From: root@example.test' 'To: postmaster@remote.test' 'Subject: SMTP by hand' '' \
    'Hello from mail.example.test, typed by hand.' '.' 'QUIT' | nc -w 10 mx1.remote.test 25
