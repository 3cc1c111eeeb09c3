# Reference solution (mail2): hand the waiting mail over now, instead of at the next retry.
set -e
postqueue -f
for _ in $(seq 150); do
    [ -z "$(postqueue -j)" ] && exit 0
    sleep 0.1
done
echo "mail2's queue did not empty within 15 s" >&2
exit 1
