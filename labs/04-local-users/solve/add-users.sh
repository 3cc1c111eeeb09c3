# Reference solution: two users with a home directory, a login shell and the course's passwords.
set -e
for user in alice bob; do
    id -u "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
done
printf 'alice:alice123\nbob:bob123\n' | chpasswd
