#!/bin/sh
# Runs as PID 1 of a new machine's namespaces (started by `unshare`), then hands over to enter.py,
# which pivots into the machine and becomes tini. Only host binaries run here: the machine's files
# are mounted on, never executed (its mount points were checked to be real folders before boot).
# $1 = the machine's root (an overlay already mounted on the host), $2 = its host name,
# $3 = the capabilities kept inside, $4 = the host's Python, $5 = enter.py; with a user namespace,
# $6 = the host uid of root inside and $7 = an open fd of the machine's user namespace.
set -eu
root="$1"; host="$2"; caps="$3"; python="$4"; enter="$5"; base="${6:-}"; userns_fd="${7:-}"
# Ids on what is mounted here: with a user namespace, root inside is host uid $base.
owner=""
[ -n "$base" ] && owner=",uid=$base,gid=$base"

hostname "$host"
ip link set lo up
if [ -n "$base" ]; then
    # The network namespace belongs to the host, so root inside has no privilege over it: it
    # cannot change addresses, routes or links. Ports below 1024 and ping are opened to it here.
    echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start
    echo "0 2147483647" > /proc/sys/net/ipv4/ping_group_range
fi

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

mount -t tmpfs -o "nosuid,mode=755,size=64k$owner" tmpfs "$root/dev"
for n in null zero full random urandom tty; do
    touch "$root/dev/$n"
    mount --bind "/dev/$n" "$root/dev/$n"
done
mkdir -p "$root/dev/pts" "$root/dev/shm"
ttygid=5
[ -n "$base" ] && ttygid=$((base + 5))
# A devpts of its own, with a cap: ptys a machine opens never starve the host or another machine.
mount -t devpts -o "newinstance,ptmxmode=0666,mode=0620,gid=$ttygid,max=64,nosuid,noexec" devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o "nosuid,nodev,mode=1777,size=64m$owner" tmpfs "$root/dev/shm"
mount -t tmpfs -o "nosuid,nodev,mode=755,size=64m$owner" tmpfs "$root/run"
mkdir -p "$root/run/lock"
[ -n "$base" ] && chown -h "$base:$base" "$root/dev/ptmx" "$root/dev/fd" "$root/dev/stdin" "$root/dev/stdout" \
    "$root/dev/stderr" "$root/dev/pts" "$root/dev/shm" "$root/run/lock"

[ -n "$base" ] && mkdir -p "$root/run/mount" && chown -h "$base:$base" "$root/run/mount"
# The rest (pivot_root, the user namespace, capabilities, seccomp, tini) is host code in one process.
exec "$python" -I -S "$enter" boot "$root" "$caps" "${userns_fd:--1}" -- /usr/bin/tini -s -- /bin/sleep infinity
