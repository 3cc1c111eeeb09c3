#!/bin/sh
# mmdebstrap customize hook: $1 is the new root file system. Runs on the host as root.
set -eu
root="$1"
recipe="$(dirname "$0")"

# Debconf: nothing in a lab machine may stop to ask a question it cannot show.
chroot "$root" debconf-set-selections <<'SEL'
debconf debconf/frontend select Noninteractive
debconf debconf/priority select critical
SEL

# The offline apt layer: the .deb files of every package set, served as a local repository.
repo="$root/srv/offline-apt"
mkdir -p "$repo"
grep -v '^#' "$recipe/offline.txt" | while read -r pkgs; do
    [ -n "$pkgs" ] || continue
    # shellcheck disable=SC2086
    # Recommends on, as a learner's apt-get has them (mmdebstrap turns them off for its own run).
    chroot "$root" apt-get install --download-only --yes -o APT::Install-Recommends=true \
        -o Dir::Cache::archives=/srv/offline-apt/ $pkgs >/dev/null
done
rm -rf "$repo/partial" "$repo/lock"
(cd "$repo" && chroot "$root" sh -c 'cd /srv/offline-apt && apt-ftparchive packages . > Packages && apt-ftparchive release . > Release')
rm -f "$root"/etc/apt/sources.list.d/* 
cat > "$root/etc/apt/sources.list" <<'SRC'
# This lab machine has no network. Its packages come from a local repository on its own disk.
deb [trusted=yes] file:/srv/offline-apt ./
SRC
chroot "$root" apt-get update -qq >/dev/null

# There is no syslog daemon in a lab machine: Postfix must write its own log file (postlogd,
# Postfix >= 3.4). Set it whenever dpkg has left a Postfix configuration behind.
cat > "$root/usr/local/sbin/maillab-maillog" <<'HOOK'
#!/bin/sh
# Called by apt after dpkg runs (see /etc/apt/apt.conf.d/90maillab-maillog). There is no syslog
# in a lab machine, so Postfix writes its own log file (postconf(5): maillog_file).
if [ -x /usr/sbin/postconf ] && [ -f /etc/postfix/main.cf ] && [ -z "$(/usr/sbin/postconf -nh maillog_file 2>/dev/null)" ]; then
    /usr/sbin/postconf -e maillog_file=/var/log/mail.log
fi
HOOK
chmod 755 "$root/usr/local/sbin/maillab-maillog"
cat > "$root/etc/apt/apt.conf.d/90maillab-maillog" <<'HOOK'
// No syslog in a lab machine: Postfix logs to /var/log/mail.log instead.
DPkg::Post-Invoke { "/usr/local/sbin/maillab-maillog"; };
HOOK

# A friendly prompt that names the machine, root's shell settings.
cat >> "$root/etc/bash.bashrc" <<'RC'
PS1='root@\h:\w\$ '
[ -r /usr/share/bash-completion/bash_completion ] && . /usr/share/bash-completion/bash_completion
RC
printf 'export EDITOR=nano\n' > "$root/etc/profile.d/maillab.sh"
rm -f "$root/etc/machine-id" "$root/var/lib/dbus/machine-id"
