# Reference solution: the Message-Id of "Lunch on Friday?" from alice's mailbox, then its queue id
# from the cleanup line that names that Message-Id.
set -e
mid=$(awk '/^From /{if (hit) print mid; hit=0; mid=""}
           /^Message-I[dD]: /{mid=$2}
           /^Subject: Lunch on Friday\?$/{hit=1}
           END{if (hit) print mid}' /var/mail/alice | tail -n 1)
[ -n "$mid" ]
qid=$(grep -F "message-id=$mid" /var/log/mail.log | sed -n 's/.*: \([0-9A-Za-z]*\): message-id=.*/\1/p' | head -n 1)
[ -n "$qid" ]
mkdir -p /root/answers
echo "$qid" > /root/answers/queue-id.txt
