"""The only way into a machine: host code that fences itself in before a machine file ever runs.

    python -I -S enter.py boot ROOT CAPS USERNS_FD -- ARGV...   (PID 1 of a new machine, from boot.sh)
    python -I -S enter.py exec PID START CAPS USERNS TTY CWD CGROUP_PROCS... -- ENV... -- ARGV...

A learner is root inside their machine and may replace any of its files. So nothing that runs with
the host's privileges or in the host's mount namespace may execute or load a file of the machine
(runc CVE-2019-5736): this script, run by the host's own Python with every module it needs imported
and every library loaded up front, joins the machine's cgroup, enters its namespaces (user namespace
included), drops the capability bounding set to CAPS, loads the seccomp filter, becomes root inside,
and only then executes the first machine file. It never imports anything after entering.

Nothing of the caller leaks in: descriptors above 2 are closed, and the command's session has no
controlling terminal of the caller's. With TTY=1 it gets a new pseudo-terminal of the machine's own
(the caller's terminal is relayed, never handed in, so TIOCSTI cannot type into it); without one, a
caller's terminal on stdout or stderr becomes a pipe that this script relays, and on stdin /dev/null.

Standard library only, started with -I -S: it must start fast and load nothing from the machine.
"""
import ctypes
import errno
import fcntl
import os
import select
import _signal as signal  # the C module: the enum wrapper costs milliseconds at every start
import struct
import sys
import termios
import time

LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
try:
    SECCOMP = ctypes.CDLL("libseccomp.so.2", use_errno=True)
except OSError:
    SECCOMP = None
ARCH = os.uname().machine
SYS_PIDFD_OPEN, SYS_PIVOT_ROOT = 434, {"x86_64": 155, "aarch64": 41}.get(ARCH, -1)
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x2000000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_CAP_AMBIENT = 1, 4, 24, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
MNT_DETACH = 2
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
TIOCSCTTY, TIOCGPTPEER, TIOCSPTLCK, TIOCSTI, TIOCLINUX = 0x540E, 0x5441, 0x40045431, 0x5412, 0x541C
GRACE = 0.3  # output still passed on after the command ended (a daemon it started may hold the terminal)
with open("/proc/sys/kernel/cap_last_cap") as _f:
    CAP_LAST = int(_f.read())
CAP_NAMES = ["chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
             "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
             "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
             "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease",
             "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
             "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore"]

# What no mail lab needs and that widens the kernel surface (Docker's default profile is the model).
DENIED = ["io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key", "request_key", "bpf",
          "perf_event_open", "userfaultfd", "kexec_load", "kexec_file_load", "init_module", "finit_module",
          "delete_module", "acct", "swapon", "swapoff", "reboot", "settimeofday", "clock_settime", "clock_adjtime",
          "adjtimex", "syslog", "open_by_handle_at", "name_to_handle_at", "quotactl", "vhangup", "uselib",
          "setns", "mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "open_tree",
          "move_mount", "mount_setattr", "lookup_dcookie", "nfsservctl", "process_madvise", "kcmp"]
SCMP_ACT_ALLOW, SCMP_ACT_ERRNO = 0x7FFF0000, 0x00050000
SCMP_FLTATR_CTL_NNP = 3
SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ = 4, 7


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


class Refused(Exception):
    pass


def check(result, what):
    if result < 0:
        err = ctypes.get_errno()
        raise Refused("%s: %s" % (what, os.strerror(err)))
    return result


def seccomp_filter():
    """Prepared now (libseccomp is a host library: load it before entering), loaded later."""
    if SECCOMP is None:
        raise Refused("libseccomp.so.2 is missing on the host (install the libseccomp2 package)")
    SECCOMP.seccomp_init.restype = ctypes.c_void_p
    SECCOMP.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(ArgCmp)]
    SECCOMP.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    SECCOMP.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    SECCOMP.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = SECCOMP.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        raise Refused("seccomp_init failed")
    # Loaded while holding CAP_SYS_ADMIN in the machine's user namespace (or the host's), so it needs no
    # no_new_privs: Postfix's setgid postdrop must keep working for the machine's users.
    check(SECCOMP.seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0), "seccomp")
    eperm = SCMP_ACT_ERRNO | errno.EPERM

    def rule(action, name, *cmps):
        nr = SECCOMP.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:
            return  # not a system call on this architecture
        array = (ArgCmp * max(len(cmps), 1))(*cmps)
        check(SECCOMP.seccomp_rule_add_array(ctx, action, nr, len(cmps), array), "seccomp rule " + name)

    for name in DENIED:
        rule(eperm, name)
    # No new user namespace: a learner's own namespace would give back every capability inside it.
    rule(eperm, "unshare", ArgCmp(0, SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))
    rule(eperm, "clone", ArgCmp(0, SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes the C library fall back to clone.
    rule(SCMP_ACT_ERRNO | errno.ENOSYS, "clone3")
    # Typing into a terminal (TIOCSTI) or poking the console (TIOCLINUX) is never needed.
    for request in (TIOCSTI, TIOCLINUX):
        rule(eperm, "ioctl", ArgCmp(1, SCMP_CMP_MASKED_EQ, 0xFFFFFFFF, request))
    return ctx


def fence(caps, seccomp_ctx):
    """Become root inside with only CAPS in the bounding set and the filter on: what every exec inherits."""
    LIBC.setgroups.argtypes = [ctypes.c_size_t, ctypes.c_void_p]
    check(LIBC.setgroups(0, None), "setgroups")
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    keep = {CAP_NAMES.index(name) for name in caps}
    for cap in range(CAP_LAST + 1):
        if cap not in keep:
            check(LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "dropping capability %d" % cap)
    LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    clear_inheritable()
    check(SECCOMP.seccomp_load(seccomp_ctx), "loading the seccomp filter")


def clear_inheritable():
    """Root's caps after exec are the bounding set plus the inheritable set: make sure the latter is empty."""
    header = struct.pack("Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = ctypes.create_string_buffer(24)
    check(LIBC.capget(header, data), "capget")
    words = list(struct.unpack("6I", data.raw))
    words[2] = words[5] = 0  # inheritable, both halves
    check(LIBC.capset(header, struct.pack("6I", *words)), "capset")


def drop_all_caps():
    """The relaying parent keeps nothing: it only passes bytes and signals on."""
    header = struct.pack("Ii", 0x20080522, 0)
    check(LIBC.capset(header, bytes(24)), "capset")
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def close_fds_above(n, keep=()):
    for fd in sorted(int(x) for x in os.listdir("/proc/self/fd")):
        if fd > n and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def has_controlling_terminal():
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
        return True
    except OSError:
        return False


def leave_session():
    """A new session of our own, without the caller's terminal (impossible for a group leader)."""
    try:
        os.setsid()
        return True
    except OSError:
        return False


def start_time(pid):
    with open("/proc/%d/stat" % pid, "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[19])


# -- boot: PID 1 of a new machine ---------------------------------------------------------------

def boot(args):
    root, caps, userns_fd, argv = args[0], args[1].split(","), int(args[2]), args[4:]
    ctx = seccomp_filter()
    null = os.open("/dev/null", os.O_RDWR)
    rootfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    # pivot_root(".", "."), then detach the old root stacked on top (runc's way): no put_old folder of
    # the machine is looked up, and the host's file system is gone from this mount namespace.
    os.fchdir(rootfd)
    check(LIBC.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    check(LIBC.umount2(b".", MNT_DETACH), "detaching the host's root")
    os.chdir("/")
    os.close(rootfd)
    if userns_fd >= 0:
        check(LIBC.setns(userns_fd, CLONE_NEWUSER), "entering the machine's user namespace")
        os.close(userns_fd)
    fence(caps, ctx)
    # Nothing inside writes into the host's boot log once it runs.
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    os.execve(argv[0], argv, {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "container": "maillab"})


# -- exec: a command inside a running machine ---------------------------------------------------

def enter(args):
    pid, started, caps, userns, tty, cwd = int(args[0]), int(args[1]), args[2].split(","), args[3] == "1", \
        args[4] == "1", args[5]
    rest = args[6:]
    cut = rest.index("--")
    cgroup_files, rest = rest[:cut], rest[cut + 1:]
    cut = rest.index("--")
    env = dict(item.split("=", 1) for item in rest[:cut])
    argv = rest[cut + 1:]
    close_fds_above(2)
    # Without a terminal of its own the command shares our session and process group (a timeout that
    # ends the group ends all it started), so that session must have no controlling terminal to reach.
    own_session = tty or (has_controlling_terminal() and not leave_session())
    ctx = seccomp_filter()
    for procs in cgroup_files:
        with open(procs, "w") as f:
            f.write("0")
    pidfd = check(LIBC.syscall(SYS_PIDFD_OPEN, pid, 0), "the machine is not running")
    if start_time(pid) != started:  # the pid is held by pidfd now: is it still the machine's init?
        raise Refused("the machine is not running")
    rootfd = os.open("/proc/%d/root" % pid, os.O_PATH | os.O_DIRECTORY)
    pipes = {fd: os.pipe() for fd in (1, 2) if not tty and os.isatty(fd)}
    if not tty and os.isatty(0):  # asked for no terminal: the caller's is not lent for reading either
        pipes[0] = (os.open("/dev/null", os.O_RDONLY), os.open("/dev/null", os.O_RDONLY))
    flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWCGROUP
    check(LIBC.setns(pidfd, flags | (CLONE_NEWUSER if userns else 0)), "entering the machine")
    os.close(pidfd)
    os.fchdir(rootfd)
    os.chroot(".")
    os.close(rootfd)
    fence(caps, ctx)
    master = None
    if tty:
        master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_NOFOLLOW | os.O_CLOEXEC)
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        if os.isatty(0):
            fcntl.ioctl(master, termios.TIOCSWINSZ, fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))
    child = os.fork()
    if child == 0:
        run_child(argv, env, cwd, master, pipes, own_session)
    drop_all_caps()
    return relay(child, master, pipes)


def run_child(argv, env, cwd, master, pipes, own_session):
    try:
        LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if own_session:
            os.setsid()
        if master is not None:
            slave = check(LIBC.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY), "opening the terminal")
            fcntl.ioctl(slave, TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.close(slave)
            os.close(master)
        for fd, (reader, writer) in pipes.items():
            os.dup2(reader if fd == 0 else writer, fd)
            os.close(reader)
            os.close(writer)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGWINCH, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        try:
            os.chdir(cwd)
        except OSError:
            os.chdir("/")
        execvpe(argv[0], argv, env)
    except OSError as exc:
        os.write(2, ("%s: %s\n" % (argv[0], exc.strerror)).encode())
        os._exit(127)
    except BaseException:
        os._exit(126)


def execvpe(name, argv, env):
    """os.execvpe imports modules as it runs; this one imports nothing."""
    if "/" in name:
        os.execve(name, argv, env)
    error = FileNotFoundError(errno.ENOENT, "command not found")
    for folder in env.get("PATH", "/usr/bin:/bin").split(":"):
        try:
            os.execve((folder or ".") + "/" + name, argv, env)
        except (FileNotFoundError, NotADirectoryError):
            pass
        except PermissionError as exc:
            error = exc
    raise error


def ready_fds(exited, sources, timeout):
    watched = [*sources, *([exited] if exited is not None else [])]
    try:
        return select.select(watched, [], [], timeout)[0]
    except InterruptedError:  # a forwarded signal or a window resize
        return []


def relay(child, master, pipes):
    """Pass bytes and signals between the caller and the command until it ends; exit as it did."""
    def forward(number, _frame):
        try:
            os.killpg(child, number)  # in a session of its own, the command leads its process group
        except OSError:
            try:
                os.kill(child, number)
            except OSError:
                pass
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, forward)
    saved = None
    sources = {}  # fd we read -> fd we write
    if master is not None:
        sources[master] = 1
        if os.isatty(0):
            saved = termios.tcgetattr(0)
            raw = termios.tcgetattr(0)
            raw[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP | termios.INLCR |
                        termios.IGNCR | termios.ICRNL | termios.IXON)
            raw[1] &= ~termios.OPOST
            raw[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
            raw[6][termios.VMIN], raw[6][termios.VTIME] = 1, 0
            termios.tcsetattr(0, termios.TCSANOW, raw)  # TCSAFLUSH would drop what was typed already

            def resize(_number, _frame):
                try:
                    fcntl.ioctl(master, termios.TIOCSWINSZ, fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))
                except OSError:
                    pass
            signal.signal(signal.SIGWINCH, resize)
        sources[0] = master
    for fd, (reader, writer) in pipes.items():
        os.close(writer)
        if fd == 0:
            os.close(reader)
        else:
            sources[reader] = fd
    status, ended = None, None
    exited = os.pidfd_open(child)  # readable once the command has ended: no polling
    try:
        while True:
            if status is None and exited in ready_fds(exited, sources, 0):
                status, ended = os.waitpid(child, 0)[1], time.monotonic()
            if status is not None and (not sources or time.monotonic() - ended > GRACE):
                break
            wait = None if status is None else max(GRACE - (time.monotonic() - ended), 0)
            for fd in ready_fds(exited if status is None else None, sources, wait):
                if fd == exited:
                    continue
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    del sources[fd]
                    continue
                try:
                    out = sources[fd]
                    while data:
                        data = data[os.write(out, data):]
                except OSError:
                    del sources[fd]
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSANOW, saved)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig
    return os.WEXITSTATUS(status)


# -- tool: a trusted program, in the machine's network and host name, reading copies of its files ----

def tool(args):
    """A program of the read-only trusted tree (the image and its packages, never a machine's files),
    run as nobody in the machine's network and uts namespaces (so defaults that come from the host
    name and the interfaces are the machine's), with copies of some of the machine's files (WORK/files,
    at their own paths) layered on top."""
    pid, started, trusted, image, work, argv = int(args[0]), int(args[1]), args[2], args[3], args[4], args[6:]
    close_fds_above(2)
    fence_tool(pid, started, trusted, image, work, seccomp_filter())
    os.execve(argv[0], argv, TOOL_ENV)


TOOL_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def fence_tool(pid, started, trusted, image, work, seccomp_ctx):
    """Tool mode up to the program's execution: a mount namespace of its own with the read-only tree
    as its root, the machine's network and host name, nobody, no new privileges, the filter on.
    Also run by the grader (sandbox/trusted.py) in a fresh child between fork and exec: it uses only
    what this module loaded already."""
    pidfd = check(LIBC.syscall(SYS_PIDFD_OPEN, pid, 0), "the machine is not running")
    if start_time(pid) != started:
        raise Refused("the machine is not running")
    check(LIBC.unshare(CLONE_NEWNS), "a mount namespace")
    check(LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "private mounts")
    root = work + "/root"
    options = "lowerdir=%s/files:%s:%s" % (work, trusted, image)
    check(LIBC.mount(b"overlay", root.encode(), b"overlay", MS_RDONLY | MS_NODEV | MS_NOSUID, options.encode()),
          "mounting the trusted tools")
    for device in ("null", "zero", "urandom"):  # the root is nodev: these few are lent from the host
        if os.path.exists(root + "/dev/" + device):
            check(LIBC.mount(("/dev/" + device).encode(), (root + "/dev/" + device).encode(), None, MS_BIND, None),
                  "/dev/" + device)
    check(LIBC.setns(pidfd, CLONE_NEWNET | CLONE_NEWUTS), "the machine's network")
    os.close(pidfd)
    os.chroot(root)
    os.chdir("/")
    check(LIBC.setgroups(0, None), "setgroups")
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)  # nobody: it reads and prints, nothing more
    check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    check(SECCOMP.seccomp_load(seccomp_ctx), "loading the seccomp filter")


def main(argv):
    try:
        if argv[:1] == ["boot"]:
            boot(argv[1:])
        elif argv[:1] == ["exec"]:
            return enter(argv[1:])
        elif argv[:1] == ["tool"]:
            tool(argv[1:])
        os.write(2, b"usage: enter.py boot|exec|tool ...\n")
        return 2
    except (Refused, OSError) as exc:
        os.write(2, ("maillab: %s\n" % exc).encode(errors="replace"))
        return 125
    except BaseException as exc:  # never a traceback: it would read source files after entering
        os.write(2, ("maillab: could not enter the machine (%s)\n" % type(exc).__name__).encode())
        return 125


if __name__ == "__main__":
    os._exit(main(sys.argv[1:]) or 0)
