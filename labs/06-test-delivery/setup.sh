# Starting state of lab 06: alice and bob (an earlier lab made them), some mail already sent,
# and two messages left in the queue for the last step: one held, one deferred.
set -e
for u in alice bob; do
    id -u "$u" >/dev/null 2>&1 || useradd -m -s /bin/bash "$u"
done
printf 'alice:alice123\nbob:bob123\n' | chpasswd
mkdir -p /root/answers

as() {  # as USER: send the message on stdin with sendmail, as that user
    su -s /bin/sh "$1" -c '/usr/sbin/sendmail -t -i'
}
as alice <<'MAIL'
From: alice@example.test
To: bob@example.test
Subject: Minutes of Monday's meeting
Message-Id: <minutes-monday.2217@example.test>

Hi Bob, the minutes are attached (well, not really).
MAIL
as bob <<'MAIL'
From: bob@example.test
To: alice@example.test
Subject: Lunch on Friday?
Message-Id: <lunch-friday.4711@example.test>

Hi Alice, lunch on Friday at noon?
MAIL
as alice <<'MAIL'
From: alice@example.test
To: bob@example.test
Subject: Re: Lunch on Friday?
Message-Id: <re-lunch-friday.4712@example.test>

Yes, see you then.
MAIL

# A message held by a content rule (a header check with the HOLD action), used only while sending it.
echo '/^Subject: Quarterly report$/ HOLD' > /etc/postfix/hold_checks
postconf -e header_checks=regexp:/etc/postfix/hold_checks
postfix reload >/dev/null 2>&1
as bob <<'MAIL'
From: bob@example.test
To: alice@example.test
Subject: Quarterly report
Message-Id: <quarterly-report.0930@example.test>

Alice, here are the numbers for the quarter.
MAIL
for _ in $(seq 100); do
    postqueue -j | grep -q '"queue_name": "hold"' && break
    sleep 0.1
done
postqueue -j | grep -q '"queue_name": "hold"'
postconf -X header_checks
rm -f /etc/postfix/hold_checks
postfix reload >/dev/null 2>&1

# Mail for a partner whose domain cannot be resolved: it waits in the deferred queue.
as alice <<'MAIL'
From: alice@example.test
To: legal@partner.test
Subject: Contract draft
Message-Id: <contract-draft.1200@example.test>

Dear partner, please find the draft of the contract.
MAIL
for _ in $(seq 100); do
    postqueue -j | grep -q '"queue_name": "deferred"' && break
    sleep 0.1
done
postqueue -j | grep -q '"queue_name": "deferred"'
