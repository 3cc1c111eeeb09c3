"""Escape and abuse, tried as root inside a machine: each attempt must stay inside, and afterwards the
host and another learner's machine must still work. Every command is bounded in time."""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from grader.backends import DISK_FULL, MachineBackend
from sandbox import CommandTimeout, Machine, MachineSpec, SandboxError, cgroups, image

pytestmark = pytest.mark.machine


def _spec(**caps) -> MachineSpec:
    return MachineSpec(lowers=[str(image.ensure_image(quiet=True))], **caps)


@pytest.fixture(scope="module")
def neighbour():
    """Another learner's machine, with a file and a process of its own."""
    m = Machine.create("pytest-esc--neighbour", _spec())
    m.exec(["sh", "-c", "echo mine > /root/canary; (setsid sleep 100000 >/dev/null 2>&1 &)"])
    yield m
    m.destroy()


@pytest.fixture(scope="module")
def host_canary(tmp_path_factory):
    """A host file and a host process the learner must not reach."""
    path = tmp_path_factory.mktemp("host") / "canary"
    path.write_text("host\n")
    proc = subprocess.Popen(["sleep", "100000"])
    yield path, proc
    proc.kill()
    proc.wait()


@pytest.fixture
def machine(neighbour, host_canary):
    """The learner's machine (small caps, so abuse is quick); after the test, the host and the
    neighbour must be unharmed."""
    m = Machine.create("pytest-esc--learner", _spec(memory_mb=128, pids=128, disk_mb=64))
    yield m
    m.destroy()
    path, proc = host_canary
    assert path.read_text() == "host\n" and proc.poll() is None, "the host was harmed"
    assert subprocess.run(["true"], timeout=10).returncode == 0, "the host cannot start a process"
    assert neighbour.exec(["cat", "/root/canary"], timeout=10).out == "mine\n", "the neighbour was harmed"
    assert "sleep 100000" in neighbour.exec(["ps", "-eo", "args"], timeout=10).out


def sh(machine, script, timeout=20):
    return machine.exec(["/bin/bash", "-c", script], timeout=timeout)


def test_root_inside_is_an_unprivileged_uid_outside(machine):
    spec = machine.spec
    assert spec.userns and spec.uid_base >= 0x70000000
    assert sh(machine, "id -u").out.strip() == "0"
    status = Path(f"/proc/{machine.pid}/status").read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert {int(u) for u in uids} == {spec.uid_base}, uids
    # A file root makes inside is the machine's block on the host, and plain root's on its disk.
    sh(machine, "echo x > /root/made")
    assert (machine.root / "root/made").stat().st_uid == spec.uid_base
    assert (machine.dir / "disk/upper/root/made").stat().st_uid == 0
    # The grader sees the owner the machine sees.
    assert MachineBackend(machine).stat("/root/made").st_uid == 0


def test_no_write_reaches_a_host_path(machine, host_canary):
    path, _ = host_canary
    attempts = [
        f"echo pwned > {path}",  # the host's path, as seen inside: not there
        "echo pwned > /proc/sys/kernel/hostname",
        "echo pwned > /sys/kernel/uevent_helper",
        "echo h > /proc/sysrq-trigger && cat /proc/sysrq-trigger | grep -q .",
        "echo 1 > /proc/sys/vm/drop_caches",
        "ls /mnt/etc/machine-id /mnt/var",  # the host's old root is not kept under /mnt
        # The classic chroot escape (chroot deeper, climb out with ..): the root stays the machine's.
        "python3 -c \"import os; os.makedirs('/tmp/j', exist_ok=True); fd=os.open('/', 0); os.chroot('/tmp/j'); "
        "os.fchdir(fd); [os.chdir('..') for _ in range(64)]; os.chroot('.'); "
        "open('/escaped', 'w').write('x'); print(open('/etc/hostname').read())\"",
    ]
    for script in attempts[:-1]:
        assert sh(machine, script).returncode != 0, script
    done = sh(machine, attempts[-1])
    assert done.out.strip() == "mail", done  # still the machine's own files
    assert (machine.root / "escaped").exists() and not Path("/escaped").exists()
    assert path.read_text() == "host\n"


def test_host_and_neighbour_processes_are_unseen_and_unsignalled(machine, neighbour, host_canary):
    _, proc = host_canary
    seen = sh(machine, "ps -eo pid,args").out
    assert "sleep 100000" not in seen and "pytest" not in seen, seen
    assert len(seen.strip().splitlines()) < 10, seen
    # Signal every pid number the host's canary and the neighbour's sleep have, and all of -1.
    theirs = [proc.pid, *(int(p) for p in subprocess.run(["pgrep", "-f", "sleep 100000"], capture_output=True,
                                                         text=True).stdout.split())]
    sh(machine, " ; ".join(f"kill -9 {pid} 2>/dev/null" for pid in theirs) + "; true")
    # The host's processes are not in /proc either.
    assert sh(machine, f"test -e /proc/{proc.pid}/cmdline && grep -q 100000 /proc/{proc.pid}/cmdline").returncode != 0
    # Killing everything it may kill ends the learner's own machine only; starting it again recovers.
    assert sh(machine, "kill -9 -1; sleep 5", timeout=10).returncode != 0
    assert proc.poll() is None
    assert "sleep 100000" in neighbour.exec(["ps", "-eo", "args"]).out
    machine.start()
    assert machine.exec(["true"]).returncode == 0


def test_mount_and_mknod_are_refused(machine):
    for script in ("mount -t tmpfs none /mnt", "mount --bind /etc /mnt", "umount -l /proc",
                   "mount -o remount,rw /sys", "mknod /root/sda b 8 0", "mknod /root/mem c 1 1",
                   "unshare -m true", "pivot_root /tmp /tmp"):
        assert sh(machine, script).returncode != 0, script
    # A user namespace of the learner's own gives no device access and changes nothing seen here.
    mounts = sh(machine, "cut -d' ' -f5 /proc/self/mountinfo").out
    done = sh(machine, "unshare -Urm sh -c 'mount -t tmpfs none /mnt && touch /mnt/x && mknod /mnt/sda b 8 0'")
    assert done.returncode != 0 and "Operation not permitted" in done.err, done
    assert sh(machine, "test -e /mnt/x").returncode != 0
    assert sh(machine, "cut -d' ' -f5 /proc/self/mountinfo").out == mounts


def test_the_network_cannot_be_changed_or_left(machine):
    for script in ("ip addr add 10.9.9.9/8 dev lo", "ip route add default dev lo", "ip link set lo down",
                   "ip link add x0 type dummy", "sysctl -w net.ipv4.ip_forward=1",
                   "ip netns add x", "hostname evil"):
        assert sh(machine, script).returncode != 0, script
    assert sh(machine, "ip -o link").out.count(":") >= 1 and "UP" in sh(machine, "ip link show lo").out
    host_addresses = [a["local"] for link in json.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True,
                                                                       text=True).stdout)
                      for a in link.get("addr_info", []) if a.get("family") == "inet" and a["local"] != "127.0.0.1"]
    for outside in ("1.1.1.1", "10.0.0.1", *host_addresses):
        done = sh(machine, f"nc -z -w 2 {outside} 22 || nc -z -w 2 {outside} 80", timeout=15)
        assert done.returncode != 0, outside
    # Ports below 1024 still open for the machine's own servers.
    assert sh(machine, "timeout 1 nc -l 127.0.0.1 25 & sleep 0.2; nc -z 127.0.0.1 25").returncode == 0


def test_a_fork_bomb_stops_at_the_pids_cap_and_reset_recovers(machine):
    started = time.monotonic()
    with pytest.raises(CommandTimeout):
        sh(machine, "bomb() { bomb | bomb & }; bomb; sleep 30", timeout=5)
    counts = cgroups.counters(machine.name)
    assert counts["pids"] <= 128 and counts["pids_refused"] > 0, counts
    machine.reset()
    assert machine.exec(["true"], timeout=10).returncode == 0
    assert cgroups.counters(machine.name)["pids"] < 10
    assert time.monotonic() - started < 60


def test_a_full_disk_stays_in_the_machine_gives_a_clear_error_and_reset_recovers(machine):
    host_free = os.statvfs(machine.dir).f_bavail * os.statvfs(machine.dir).f_frsize
    done = sh(machine, "fallocate -l 200M /root/big; dd if=/dev/zero of=/root/fill bs=1M count=200 2>&1", timeout=60)
    assert "No space left" in done.out + done.err
    used, size = machine.disk_usage()
    assert size <= 64 * 2**20 and used > 0.9 * size
    # The host lost at most the cap (the disk image is sparse), not what was asked for.
    assert host_free - os.statvfs(machine.dir).f_bavail * os.statvfs(machine.dir).f_frsize < 80 * 2**20
    assert (machine.dir / "disk.img").stat().st_blocks * 512 < 80 * 2**20
    # A command that fails on the full disk is reported as such, in one sentence.
    with pytest.raises(SandboxError) as caught:
        MachineBackend(machine).run(["sh", "-c", "echo x > /root/more"], timeout=10)
    assert str(caught.value) == DISK_FULL
    machine.reset()
    assert sh(machine, "echo ok > /root/again && cat /root/again").out == "ok\n"


def test_eating_memory_kills_inside_only(machine):
    before = cgroups.counters(machine.name)["oom_kills"]
    done = sh(machine, "python3 -c 'a = [bytearray(1 << 20) for _ in range(1024)]'", timeout=60)
    assert done.returncode != 0
    assert cgroups.counters(machine.name)["oom_kills"] > before
    assert machine.running() and machine.exec(["true"]).returncode == 0
