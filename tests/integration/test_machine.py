"""A lab machine is a real, separate Debian system: exec, limits, isolation, life cycle."""
import os
import subprocess
import time
from pathlib import Path

import pytest

from sandbox import CommandTimeout, Machine, MachineNotRunning, MachineSpec, image

pytestmark = pytest.mark.machine


@pytest.fixture
def machine():
    m = Machine.create("pytest--machine", MachineSpec(lowers=[str(image.ensure_image(quiet=True))]))
    yield m
    m.destroy()


def test_exec_passes_exit_code_output_and_input(machine):
    done = machine.exec(["sh", "-c", "cat; echo to-err >&2; exit 7"], input=b"hello\n")
    assert (done.returncode, done.out, done.err) == (7, "hello\n", "to-err\n")


def test_machine_has_its_own_identity_and_root(machine):
    assert machine.exec(["hostname", "--fqdn"]).out.strip() == "mail.example.test"
    assert machine.exec(["cat", "/proc/1/cmdline"]).out.split("\0")[0] == "/usr/bin/tini"
    assert "bookworm" in machine.exec(["cat", "/etc/os-release"]).out
    # Postfix is not in the image: installing it is the first lesson.
    assert machine.exec(["dpkg-query", "-W", "postfix"]).returncode != 0
    # The environment is clean: nothing of the caller's leaks in.
    env = machine.exec(["env"]).out
    assert "MAILLAB_LEARNER" not in env and "PYTEST_CURRENT_TEST" not in env


def test_files_written_inside_are_visible_to_the_host_and_not_beyond(machine):
    machine.exec(["sh", "-c", "echo inside > /root/note"])
    assert (machine.root / "root/note").read_text() == "inside\n"
    assert not Path("/root/note").exists() or Path("/root/note").read_text() != "inside\n"


def test_network_has_only_loopback(machine):
    links = machine.exec(["ip", "-o", "link"]).out
    assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
    assert machine.exec(["ip", "route", "get", "192.0.2.1"]).returncode != 0


def test_learner_root_cannot_harm_the_host(machine):
    """Root inside keeps a mail server's capabilities, not the host administrator's."""
    for script in ("mount -t tmpfs none /mnt", "echo b > /proc/sysrq-trigger", "date -s 2000-01-01",
                   "echo 1 > /proc/sys/kernel/panic", "insmod /nonexistent.ko", "mknod /dev/sda1 b 8 1 && cat /dev/sda1"):
        assert machine.exec(["sh", "-c", script]).returncode != 0, script
    for hidden in ("/proc/kcore", "/proc/kallsyms", "/proc/keys", "/proc/timer_list"):
        assert machine.exec(["sh", "-c", f"head -c1 {hidden} 2>/dev/null"]).stdout == b"", hidden
    caps = machine.exec(["sh", "-c", "grep CapBnd /proc/self/status"]).out.split()[1]
    bounding = int(caps, 16)
    for bit in (16, 17, 21, 22, 25):  # sys_module, sys_rawio, sys_admin, sys_boot, sys_time
        assert not bounding & (1 << bit)


def test_a_hung_command_is_stopped_in_time_and_leaves_nothing(machine):
    started = time.monotonic()
    with pytest.raises(CommandTimeout) as caught:
        machine.exec(["sh", "-c", "sleep 300 | cat"], timeout=1)
    assert time.monotonic() - started < 5
    assert "did not finish within 1 s" in str(caught.value)
    time.sleep(0.2)
    assert "sleep 300" not in machine.exec(["ps", "-eo", "args"]).out


def test_an_output_flood_is_bounded(machine):
    done = machine.exec(["sh", "-c", "head -c 50000000 /dev/zero"], timeout=30)
    assert done.returncode == 0 and len(done.stdout) <= 8 * 1024 * 1024


def test_limits_are_set(machine):
    assert machine.memory_usage() is not None
    pid = machine.pid
    cgroup = Path(f"/proc/{pid}/cgroup").read_text()
    assert machine.name in cgroup


def test_stop_keeps_files_and_services_start_boots_them(machine):
    machine.exec(["sh", "-c", "echo kept > /root/kept"])
    machine.stop()
    assert not machine.running()
    with pytest.raises(MachineNotRunning):
        machine.exec(["true"])
    machine.start()
    assert machine.exec(["cat", "/root/kept"]).out == "kept\n"


def test_reset_throws_changes_away(machine):
    machine.exec(["sh", "-c", "echo gone > /root/gone"])
    machine.reset()
    assert machine.exec(["test", "-e", "/root/gone"]).returncode == 1


def test_destroy_leaves_no_mount_process_or_cgroup(machine):
    pid = machine.pid
    machine.destroy()
    assert str(machine.dir) not in Path("/proc/self/mountinfo").read_text()
    assert not Path(f"/proc/{pid}").exists()
    assert not machine.dir.exists()
    assert not any(Path("/sys/fs/cgroup").glob(f"**/maillab/{machine.name}"))
