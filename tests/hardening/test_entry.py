"""The ways into a machine, tried by a hostile root inside: replaced binaries and start-up files,
identity files turned into links, keystrokes pushed into the caller's terminal, ptys hoarded,
kernel calls no mail lab needs, host paths read from /proc. Each path (create, exec, shell, a stop
and start) with and without a user namespace. Afterwards the host and a neighbour are unharmed."""
import os
import re
import shlex
import subprocess
import time

import pytest

from sandbox import Machine, MachineSpec, SandboxError, image, paths
from sandbox.machine import CAPABILITIES

pytestmark = pytest.mark.machine

# The capability numbers a machine keeps (see sandbox/machine.py): its bounding set, as /proc shows it.
_NUMBERS = {"chown": 0, "dac_override": 1, "fowner": 3, "fsetid": 4, "kill": 5, "setgid": 6, "setuid": 7,
            "setpcap": 8, "net_bind_service": 10, "net_raw": 13, "sys_chroot": 18, "sys_ptrace": 19, "audit_write": 29, "setfcap": 31}
BOUNDED = sum(1 << _NUMBERS[c] for c in CAPABILITIES)
HOST_MNT = os.readlink("/proc/self/ns/mnt")

# Binaries the host used to run from a machine's own files (boot, exec), and a login shell's start-up
# files: each becomes a spy that records with what privileges it ran, then does its job.
SPIED = ["/usr/bin/setpriv", "/usr/bin/nsenter", "/usr/bin/umount", "/usr/sbin/chroot", "/usr/bin/env",
         "/bin/sleep", "/usr/bin/id"]
SPY = """#!/bin/sh
{{ echo "$0 $(readlink /proc/self/ns/mnt) $(grep -E '^(CapBnd|CapEff|Seccomp):' /proc/self/status | tr '\\n' ' ')"
   echo "  uid_map: $(cat /proc/self/uid_map)"; }} >> /root/spied 2>/dev/null
exec {real} "$@"
"""


def _spec(**kw) -> MachineSpec:
    return MachineSpec(lowers=[str(image.ensure_image(quiet=True))], **kw)


@pytest.fixture(scope="module")
def neighbour():
    m = Machine.create("pytest-entry--neighbour", _spec())
    m.exec(["sh", "-c", "echo mine > /root/canary"])
    yield m
    m.destroy()


@pytest.fixture(params=["userns", "no-userns"])
def machine(request, neighbour, tmp_path):
    canary = tmp_path / "host-canary"
    canary.write_text("host\n")
    m = Machine.create("pytest-entry--learner", _spec(userns=request.param == "userns", memory_mb=256))
    m.canary = canary
    yield m
    m.destroy()
    assert canary.read_text() == "host\n", "a host file was written"
    assert neighbour.exec(["cat", "/root/canary"], timeout=10).out == "mine\n", "the neighbour was harmed"


def sh(machine, script, timeout=20):
    return machine.exec(["/bin/bash", "-c", script], timeout=timeout)


def _spy_on_everything(machine):
    for path in SPIED:
        real = path + ".real"
        sh(machine, f"[ -e {real} ] || cp -a {path} {real}")
        script = SPY.format(real=real)
        sh(machine, f"cat > {path} <<'EOF'\n{script}EOF\nchmod 755 {path}")
    sh(machine, "echo 'sh /root/profile-spy' > /etc/profile.d/zz-spy.sh; "
                "printf '%s\\n' 'echo \"profile $(readlink /proc/self/ns/mnt) $(grep CapBnd /proc/self/status)\" >> /root/spied'"
                " > /root/profile-spy")


def _records(machine) -> list[str]:
    lines = sh(machine, "cat /root/spied 2>/dev/null || true").out.splitlines()
    return [line for line in lines if not line.startswith("  uid_map")]


def _assert_fenced(machine, records):
    assert records, "no spy ran at all: the test saw nothing"
    for line in records:
        assert HOST_MNT not in line, f"a machine file ran in the host's mount namespace: {line}"
        for field in ("CapBnd",) if line.startswith("profile") else ("CapBnd", "CapEff"):
            found = re.search(field + r":\s*([0-9a-f]{16})", line)
            assert found and int(found.group(1), 16) & ~BOUNDED == 0, f"more capabilities than a machine keeps: {line}"
        assert line.startswith("profile") or re.search(r"Seccomp:\s*2", line), f"no seccomp filter: {line}"
    if machine.spec.userns:
        for line in sh(machine, "grep uid_map /root/spied || true").out.splitlines():
            assert "4294967295" not in line, f"a machine file ran with the host's ids: {line}"
    # tini, PID 1, booted fenced too.
    status = sh(machine, "cat /proc/1/status").out
    assert int(re.search(r"CapBnd:\s*([0-9a-f]+)", status).group(1), 16) & ~BOUNDED == 0
    assert re.search(r"Seccomp:\s*2", status)


def test_replaced_binaries_never_run_with_host_privileges(machine):
    """Does a replaced setpriv, nsenter, umount, chroot, env or tini run as host root on a stop and start,
    on exec, or in a login shell?"""
    _spy_on_everything(machine)
    machine.stop()
    machine.start()
    sh(machine, "id >/dev/null; env true; /usr/bin/setpriv --help >/dev/null 2>&1 || true")
    done = subprocess.run(["script", "-qec", shlex.join(machine.enter_argv(["/bin/bash", "-lc", "id -u"], tty=True)),
                           "/dev/null"], capture_output=True, text=True, timeout=30)
    assert "0" in done.stdout, done
    _assert_fenced(machine, _records(machine))


def test_boot_ignores_the_machines_own_tools(machine):
    """A machine whose tools are all broken (umount, setpriv, nsenter, env are `exit 1`) still boots and runs
    commands: the host never needs them."""
    for path in ("/usr/bin/setpriv", "/usr/bin/nsenter", "/usr/bin/umount", "/usr/sbin/chroot", "/usr/bin/env"):
        sh(machine, f"printf '#!/bin/sh\\nexit 1\\n' > {path}")
    machine.stop()
    machine.start()
    assert sh(machine, "echo alive").out == "alive\n"


@pytest.mark.parametrize("name", ["hostname", "hosts", "resolv.conf"])
def test_identity_files_are_never_written_through_links(machine, neighbour, name):
    """Does `ln -s HOSTFILE /etc/hosts` make the next start overwrite a host file or the neighbour's?"""
    target = machine.canary
    theirs = neighbour.root / "root/canary"
    sh(machine, f"rm -f /etc/{name}; ln -s {target} /etc/{name}")
    machine.stop()
    machine.start()
    assert target.read_text() == "host\n"
    assert sh(machine, f"test -L /etc/{name} && echo link || echo file").out == "file\n"
    sh(machine, f"rm -f /etc/{name}; ln -s {theirs} /etc/{name}")
    machine.stop()
    machine.start()
    assert neighbour.exec(["cat", "/root/canary"]).out == "mine\n"


def test_an_etc_that_is_a_link_stops_the_start_with_a_sentence(machine):
    sh(machine, f"mv /etc /etc.old && /etc.old/../bin/ln -s {machine.canary.parent} /etc || true")
    machine.stop()
    with pytest.raises(SandboxError, match="/etc/hostname cannot be written"):
        machine.start()
    assert machine.canary.read_text() == "host\n"
    assert sorted(p.name for p in machine.canary.parent.iterdir()) == ["host-canary"]


PUSH = "perl -e 'for (split //, \"touch {marker}\\n\") {{ ioctl(STDIN, 0x5412, $_) or die \"TIOCSTI: $!\\n\" }}'"


def test_no_keystrokes_reach_the_callers_terminal(machine, tmp_path):
    """Can a command inside push keystrokes (TIOCSTI) into the terminal of whoever runs it, with a terminal
    (shell, terminal) or without (exec with a terminal on stdout), or reach it through /dev/tty?"""
    marker = tmp_path / "typed"
    for tty in (True, False):
        argv = machine.enter_argv(["/bin/bash", "-c", PUSH.format(marker=marker) + "; echo x > /dev/tty"], tty=tty)
        # The caller: an interactive shell on a terminal of its own, which would run what gets typed.
        outer = f"{shlex.join(argv)}; sleep 0.3; read -t 1 line && eval \"$line\"; true"
        done = subprocess.run(["script", "-qec", f"bash -c {shlex.quote(outer)}", "/dev/null"],
                              capture_output=True, text=True, timeout=30, cwd=tmp_path,
                              env={**os.environ, "HOME": str(tmp_path)})
        assert "Operation not permitted" in done.stdout, done.stdout
        assert not marker.exists()


def test_ptys_are_capped_per_machine(machine, neighbour):
    """Can one machine take every pty of the host?"""
    hoard = ("perl -e 'my @h; for (1..200) { open(my $f, \"+<\", \"/dev/ptmx\") or last; push @h, $f } "
             "print scalar(@h), \"\\n\"; sleep 3' ")
    proc = subprocess.Popen(machine.enter_argv(["/bin/sh", "-c", hoard]), stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        other = neighbour.exec(["perl", "-e", "open(my $f, '+<', '/dev/ptmx') or die \"$!\\n\"; print \"ok\\n\""])
        assert other.out == "ok\n", other
        done = subprocess.run(["script", "-qec", shlex.join(neighbour.enter_argv(["tty"], tty=True)), "/dev/null"],
                              capture_output=True, text=True, timeout=20)
        assert "/dev/pts/" in done.stdout
    finally:
        out = proc.communicate(timeout=20)[0]
    assert 0 < int(out.strip()) <= 64


KERNEL_CALLS = {  # x86_64 numbers: what the seccomp filter refuses with EPERM
    "io_uring_setup": "syscall(425, 1, 0)",
    "keyctl": "syscall(250, 0, 0)",
    "add_key": "syscall(248, 0, 0, 0, 0, 0)",
    "bpf": "syscall(321, 0, 0, 0)",
    "perf_event_open": "syscall(298, 0, 0, -1, -1, 0)",
    "userfaultfd": "syscall(323, 0)",
    "kexec_load": "syscall(246, 0, 0, 0, 0)",
    "init_module": "syscall(175, 0, 0, 0)",
    "unshare(CLONE_NEWUSER)": "syscall(272, 0x10000000)",
}


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="system call numbers of x86_64")
@pytest.mark.parametrize("call", sorted(KERNEL_CALLS))
def test_kernel_calls_no_lab_needs_get_eperm(machine, call):
    done = sh(machine, f"perl -e '$r = {KERNEL_CALLS[call]}; print $r == -1 ? \"$!\" : \"allowed\"'")
    assert done.out == "Operation not permitted", (call, done)


def test_no_new_namespaces_inside(machine):
    for flag in ("-U", "-Ur", "-n", "-m"):
        done = sh(machine, f"unshare {flag} true")
        assert done.returncode != 0, (flag, done)


def test_proc_shows_no_host_path(machine):
    """Does /proc inside show where the machine lives on the host, or the learner's name?"""
    home = str(paths.home())
    for what in ("/proc/self/mountinfo", "/proc/1/mountinfo", "/proc/self/cgroup", "/proc/self/mounts"):
        text = sh(machine, f"cat {what}").out
        assert home not in text and machine.name not in text, (what, text)


def test_a_terminal_session_gets_what_is_typed_at_once_and_its_exit_code(machine):
    """The relay of a terminal session: keys typed before the shell is up are not lost (a notebook or
    workshop terminal sends its first line at once), and the exit code comes back."""
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:
        argv = machine.enter_argv(["/bin/bash", "-l"], tty=True)
        os.execvp(argv[0], argv)
    try:
        os.write(fd, b"echo ROOT=$(id -u)-$(tty)\r")
        seen, deadline = b"", time.monotonic() + 10
        while b"ROOT=0-/dev/pts/" not in seen and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                seen += os.read(fd, 4096)
        assert b"ROOT=0-/dev/pts/" in seen, seen
        os.write(fd, b"exit 3\r")
        assert os.waitpid(pid, 0)[1] >> 8 == 3
    finally:
        os.close(fd)
