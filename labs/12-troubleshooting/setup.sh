# Starting state of lab 12: the working server of lab 09, where alice already had mail. Then
# each learner's own faults are planted, drawn from the pool in faults/ (each faults/ID/plant.sh,
# see [pool] in lab.toml); the notebook does not show these files.
set -e
printf 'Subject: Welcome to mail.example.test\nMessage-Id: <welcome.maillab@example.test>\n\nHello alice.\n' \
    | sendmail alice
for _ in $(seq 100); do [ -z "$(postqueue -j)" ] && exit 0; sleep 0.1; done
echo "the welcome message was not delivered" >&2
exit 1
