# Reference solution: each drawn fault's own repair ran first (faults/ID/repair.sh); then make
# every change live and let the waiting mail go.
set -e
postfix reload >/dev/null 2>&1
doveadm reload
postsuper -H ALL 2>/dev/null
# Dovecot takes a moment to come back after its reload: a delivery tried in that moment waits in
# the queue, so flush again every two seconds.
for i in $(seq 0 99); do
  [ $((i % 20)) -eq 0 ] && postqueue -f
  sleep 0.1
  [ -z "$(postqueue -j)" ] && exit 0
done
echo "the queue did not empty within 10 s" >&2
postqueue -p >&2
exit 1
