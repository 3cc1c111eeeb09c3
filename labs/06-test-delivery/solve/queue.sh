# Reference solution: release the held "Quarterly report" and deliver it now; hold the mail for
# partner.test, which cannot be reached.
set -e
qid_of() {  # qid_of MESSAGE-ID: the queue id Postfix gave that message
    sed -n "s/.*: \([0-9A-Za-z]*\): message-id=<$1>.*/\1/p" /var/log/mail.log | tail -n 1
}
report=$(qid_of quarterly-report.0930@example.test)
contract=$(qid_of contract-draft.1200@example.test)
postsuper -H "$report"
postqueue -i "$report"
postsuper -h "$contract"
for _ in $(seq 100); do
    grep -q '^Message-Id: <quarterly-report.0930@example.test>' /var/mail/alice && exit 0
    sleep 0.1
done
echo "the Quarterly report did not reach /var/mail/alice within 10 s" >&2
exit 1
