#!/bin/sh
# Runs as PID 1 of a new machine's namespaces (started by `unshare`), then becomes tini.
# $1 = the machine's root (an overlay already mounted on the host), $2 = its host name,
# $3 = the capability bounding set for everything inside.
set -eu
root="$1"; host="$2"; caps="$3"

hostname "$host"
ip link set lo up

mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
# Hide or freeze the /proc files a learner never needs and that can hurt the host.
for f in kcore keys timer_list sched_debug latency_stats sysrq-trigger kallsyms; do
    [ -e "$root/proc/$f" ] && mount --bind /dev/null "$root/proc/$f"
done
for d in acpi scsi; do
    [ -d "$root/proc/$d" ] && mount -t tmpfs -o ro,size=0 tmpfs "$root/proc/$d"
done
for d in bus fs irq sys; do
    if [ -e "$root/proc/$d" ]; then
        mount --bind "$root/proc/$d" "$root/proc/$d"
        mount -o remount,bind,ro "$root/proc/$d"
    fi
done
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"

mount -t tmpfs -o nosuid,mode=755,size=64k tmpfs "$root/dev"
for n in null zero full random urandom tty; do
    touch "$root/dev/$n"
    mount --bind "/dev/$n" "$root/dev/$n"
done
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o nosuid,nodev,mode=1777,size=64m tmpfs "$root/dev/shm"
mount -t tmpfs -o nosuid,nodev,mode=755,size=64m tmpfs "$root/run"
mkdir -p "$root/run/lock"

# Make the machine's root the root of this mount namespace, so nothing of the host stays reachable.
cd "$root"
pivot_root . mnt
exec chroot . /bin/sh -c '
    umount -l /mnt
    exec /usr/bin/setpriv --bounding-set "$1" -- /usr/bin/tini -s -- /bin/sleep infinity
' sh "$caps"
