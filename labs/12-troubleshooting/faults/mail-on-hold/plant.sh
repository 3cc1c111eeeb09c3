set -e
# A header check meant for one spammer holds every message; two messages for alice wait.
printf '/^From:/ HOLD quarantine\n' > /etc/postfix/header_checks
postconf -e header_checks=regexp:/etc/postfix/header_checks
postfix reload >/dev/null 2>&1
sleep 1
for n in 1 2; do
    printf 'From: bob@example.test\nTo: alice@example.test\nSubject: Lunch on Friday (%s)\nMessage-Id: <held-%s.maillab@example.test>\n\nShall we?\n' \
        "$n" "$n" | sendmail -f bob@example.test alice@localhost
done
for _ in $(seq 100); do [ "$(postqueue -j | grep -c '"queue_name": "hold"')" = 2 ] && exit 0; sleep 0.1; done
echo "the two messages did not go on hold" >&2
exit 1
