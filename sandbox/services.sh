#!/bin/sh
# Starts a machine's services at boot, all at once, inside the machine as its root:
#     sh -s -- FIRST SERVICE...      (this text on stdin; FIRST is 1 on a machine's first boot)
# Each service starts with its own init script (`service NAME start`), side by side: none of the
# lab's services waits for another at start (Postfix reaches a milter or Dovecot's LMTP socket
# only when mail arrives).
#
# Postfix, on the first boot of a machine made from a starting state, starts the way Postfix
# itself does after `postfix quick-stop`: the state was checked when it was built (Postfix ran
# in it), so its integrity check is skipped (the quick-start file), and Debian's init script,
# whose work is copying /etc files into Postfix's chroot, is skipped while those copies are
# the same as /etc's. Any later start, or a copy that differs, goes through the init script.
first="$1"; shift
postfix_quick() {
    [ "$first" = 1 ] && [ -d /var/spool/postfix/etc ] || return 1
    for f in hosts resolv.conf services nsswitch.conf; do
        if [ -e "/etc/$f" ] || [ -e "/var/spool/postfix/etc/$f" ]; then
            cmp -s "/etc/$f" "/var/spool/postfix/etc/$f" || return 1
        fi
    done
    : > /var/spool/postfix/quick-start && /usr/sbin/postfix start
}
for name in "$@"; do
    if [ "$name" = postfix ]; then
        { postfix_quick || service postfix start; } >/dev/null 2>&1 &
    else
        service "$name" start >/dev/null 2>&1 &
    fi
done
wait
