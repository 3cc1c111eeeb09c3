"""A lab machine: an overlay root on the image, its own namespaces, tini as PID 1.

On the host a machine is a folder under machines/NAME: `disk.img` (its disk: an ext4 image whose
`upper/` holds what the learner changed), `merged/` (the machine's root, readable by the grader),
`machine.json` (how to boot it) and `pid` (tini's host pid while it runs). Commands enter it with
nsenter and run as root inside, with the capabilities a mail server needs and no more.

By default root inside is not root outside: the machine lives in a user namespace of its own,
its ids 0..65535 being an unprivileged block of host ids (idmap.py, uidrange.py). Its layers and
disk keep the ids the machine sees and are mounted idmapped under `idmapped/`. The namespaces
other than the user namespace belong to the host, so root inside cannot mount, change the
network or the host name, whatever its capabilities.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import stat
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from . import cgroups, disk, idmap, paths, procs, safefs, uidrange
from .errors import MachineNotRunning, SandboxError, _
from .result import ExecResult
from .runner import run_bounded

BOOT = Path(__file__).with_name("boot.sh")
ENTER = Path(__file__).with_name("enter.py")
SERVICES = Path(__file__).with_name("services.sh")
# The host's own Python runs enter.py (isolated: -I -S), never a machine's.
HOST_PYTHON = os.path.realpath(sys.executable)
# What a learner's root keeps (Docker's default set without mknod): enough to run and configure mail servers;
# no module loading, raw I/O, reboot, clock, mounting or other administration of the host.
# Docker's default set, and sys_ptrace: a daemon that gives up root (OpenDKIM) hides its /proc
# entries from root without it, so `service NAME stop|restart|status` (pidof, start-stop-daemon
# --exec) would not find it. The capability holds in the machine's user namespace only: it reaches
# programs run as root inside (which that root could replace anyway), never the grader's trusted
# tools, nor enter.py before it hands over (its memory belongs to the host's namespace).
CAPABILITIES = ("chown", "dac_override", "fsetid", "fowner", "net_raw", "setgid", "setuid",
                "setfcap", "setpcap", "net_bind_service", "sys_chroot", "kill", "audit_write", "sys_ptrace")
# The folders boot mounts on: they must be folders of the machine, never links out of it.
MOUNT_POINTS = ("proc", "sys", "dev", "run")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MS_NODEV = 0x4


def userns_default() -> bool:
    """User namespaces are on unless MAILLAB_USERNS=0 (or no/off/false) says otherwise."""
    return os.environ.get("MAILLAB_USERNS", "1").strip().lower() not in ("0", "no", "off", "false")


@dataclass
class MachineSpec:
    hostname: str = "mail"
    domain: str = "example.test"
    lowers: list[str] = field(default_factory=list)  # layer folders, top first, the image last
    memory_mb: int = 512
    pids: int = 512
    disk_mb: int = 1024  # the size of its disk (what it can write); 0 = no disk cap, on the host's disk
    cpu: float = 1.0  # cores it may use at most (a CPU quota); 0 = no quota (its learner's share still holds)
    userns: bool = field(default_factory=userns_default)  # root inside is an unprivileged host uid
    uid_base: int = 0  # the host uid of root inside (with userns; allocated at create)
    hosts: list[str] = field(default_factory=list)  # extra /etc/hosts lines
    resolv_conf: str = "# This machine has no DNS server of its own yet.\n"
    services: list[str] = field(default_factory=list)  # started with `service NAME start` at boot
    netns: str = ""  # a network namespace (file) to live in, made by a lab network; else a private one
    address: str = ""  # the machine's address on that network (for /etc/hosts)

    @property
    def fqdn(self) -> str:
        return f"{self.hostname}.{self.domain}" if self.domain else self.hostname


class Machine:
    def __init__(self, name: str):
        if not name or "/" in name or name.startswith("."):
            raise SandboxError(_("{name!r} is not a valid machine name.", name=name))
        self.name = name
        self.dir = paths.machines_dir() / name

    # -- where things are -------------------------------------------------------------------
    @property
    def root(self) -> Path:
        """The machine's root file system as the host sees it (valid while the machine runs)."""
        return self.dir / "merged"

    @property
    def spec(self) -> MachineSpec:
        try:
            data = json.loads((self.dir / "machine.json").read_text())
        except FileNotFoundError:
            raise MachineNotRunning(_("There is no machine called {name}: start the lab first.",
                                      name=self.name)) from None
        # A machine made before disks and user namespaces keeps booting the way it was made.
        data.setdefault("disk_mb", 0)
        data.setdefault("userns", False)
        return MachineSpec(**data)

    def _save_spec(self, spec: MachineSpec) -> None:
        tmp = self.dir / "machine.json.tmp"
        tmp.write_text(json.dumps(asdict(spec), indent=2))
        os.replace(tmp, self.dir / "machine.json")

    @property
    def _store(self) -> Path:
        """The folder holding upper/ and work/ as the host stores them: the machine's disk, or (for a
        machine without a disk cap) its own folder."""
        return self.dir / "disk" if (self.dir / "disk.img").exists() else self.dir

    def inside_uid(self, host: int) -> int:
        """The id this machine sees for a host uid or gid (a stat of its files from the host)."""
        spec = self.spec
        return idmap.as_inside_id(spec.uid_base, host) if spec.userns else host

    def as_root(self, fn):
        """Run fn (which writes under self.root from the host) so that what it creates belongs to the
        machine's root, as if made inside; returns fn's result."""
        spec = self.spec
        if not spec.userns:
            return fn()
        return idmap.acting_as(spec.uid_base, spec.uid_base, fn)

    def disk_usage(self) -> tuple[int, int] | None:
        """(bytes used, bytes in all) of the machine's disk while it runs; None without a disk cap."""
        return disk.usage(self.dir / "disk") if (self.dir / "disk.img").exists() else None

    def disk_full(self) -> bool:
        return (self.dir / "disk.img").exists() and disk.is_full(self.dir / "disk")

    @property
    def made(self) -> str | None:
        """What tells this machine from an earlier one of the same name (a reset makes a new one):
        kept across stops and starts; None when there is no machine (or it predates this mark)."""
        try:
            return (self.dir / "made").read_text().strip() or None
        except OSError:
            return None

    def exists(self) -> bool:
        return (self.dir / "machine.json").is_file()

    @property
    def pid(self) -> int | None:
        """tini's pid on the host, or None when the machine is not running."""
        try:
            pid, started = (int(x) for x in (self.dir / "pid").read_text().split())
        except (OSError, ValueError):
            return None
        # The start time tells our tini from a later process that reuses its pid.
        return pid if procs.start_time(pid) == started else None

    def running(self) -> bool:
        return self.pid is not None

    # -- life cycle --------------------------------------------------------------------------
    @classmethod
    def create(cls, name: str, spec: MachineSpec) -> "Machine":
        """A new machine from `spec`, started (any old machine of that name is destroyed)."""
        machine = cls(name)
        machine.destroy()
        spec = MachineSpec(**asdict(spec))  # ours to fill in
        try:
            (machine.dir / "merged").mkdir(parents=True)
            if spec.disk_mb > 0:
                disk.make(machine.dir / "disk.img", spec.disk_mb)
            else:
                for sub in ("upper", "work"):
                    (machine.dir / sub).mkdir()
            if spec.userns:
                spec.uid_base = uidrange.allocate(machine.dir)
            (machine.dir / "made").write_text(uuid.uuid4().hex)
            machine._save_spec(spec)
            machine.start(first_boot=True)
        except BaseException:
            machine.destroy()  # nothing half-made stays behind
            raise
        return machine

    def start(self, *, first_boot: bool = False) -> None:
        """Boot the machine from its folder (after a stop, the learner's files are kept).
        `first_boot`: made just now from its layers (services.sh may start Postfix the quick way)."""
        if self.running():
            return
        spec = self.spec
        for lower in spec.lowers:
            if not Path(lower).is_dir():
                raise SandboxError(_("Machine {name} was made from a lab image or starting state that no longer "
                                     "exists (the image was rebuilt): reset the lab with `maillab reset LAB` "
                                     "(this machine's changes are lost).", name=self.name))
        if spec.netns and not os.path.exists(spec.netns):
            raise SandboxError(_("The lab network of machine {name} is not up: start the lab again.", name=self.name))
        if spec.userns and not spec.uid_base:
            spec.uid_base = uidrange.allocate(self.dir)  # a machine made with user namespaces off
            self._save_spec(spec)
        userns = self._mount(spec)
        try:
            self._check_mount_points()
            self.as_root(lambda: self._write_identity(spec))
            cgroups.create(self.name, memory_bytes=spec.memory_mb * 1024 * 1024, pids=spec.pids, cpu=spec.cpu)
            # In a lab network the machine joins the namespace the network made for it; else it gets its own.
            net = ["nsenter", f"--net={spec.netns}", "--"] if spec.netns else []
            # With a user namespace, boot.sh enters it last, through this fd (see boot.sh).
            ids = [str(spec.uid_base), str(userns)] if userns is not None else []
            with open(self.dir / "boot.log", "wb") as log:
                proc = subprocess.Popen(
                    [*net, "unshare", "--mount", "--uts", "--ipc", *([] if spec.netns else ["--net"]), "--pid",
                     "--cgroup", "--fork", "--kill-child", "--propagation", "private", "--",
                     "/bin/sh", str(BOOT), str(self.root), spec.hostname, ",".join(CAPABILITIES), HOST_PYTHON,
                     str(ENTER), *ids],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                    pass_fds=(userns,) if userns is not None else (),
                    preexec_fn=lambda: cgroups.join(self.name),
                )
        finally:
            if userns is not None:
                os.close(userns)
        pid = self._wait_for_init(proc)
        (self.dir / "pid").write_text(f"{pid} {procs.start_time(pid)}")
        if spec.services:  # all at once, in one command (services.sh)
            self.exec(["sh", "-s", "--", "1" if first_boot else "0", *spec.services], input=SERVICES.read_bytes(),
                      timeout=30)

    def _mount(self, spec: MachineSpec) -> int | None:
        """Mount the machine's disk and root; with a user namespace, returns an fd of a new one
        (its ids mapped to the machine's block), through which the layers are seen."""
        if (self.dir / "disk.img").exists() and not os.path.ismount(self.dir / "disk"):
            disk.mount(self.dir / "disk.img", self.dir / "disk")
        userns = idmap.user_namespace(spec.uid_base) if spec.userns else None
        try:
            if os.path.ismount(self.root):
                return userns  # still mounted (a machine whose processes died): only the boot is missing
            lowers, store = list(spec.lowers), self._store
            if userns is not None:
                # The layers and the disk, seen through the machine's ids: a file stored as root's is
                # the machine root's host uid in these views.
                views = self.dir / "idmapped"
                views.mkdir(exist_ok=True)
                pairs = [(Path(lower), views / f"lower{i}") for i, lower in enumerate(lowers)]
                for source, view in [*pairs, (store, views / "disk")]:
                    view.mkdir(exist_ok=True)
                    if not os.path.ismount(view):
                        idmap.bind_idmapped(source, view, userns, readonly=view.name != "disk")
                lowers, store = [str(view) for _, view in pairs], views / "disk"
            # The layers are named to overlayfs by open descriptors (/proc/self/fd/N), so the options a
            # learner reads in /proc/self/mountinfo show no host path (nor their own name in one).
            fds = [os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                   for p in (*lowers, store / "upper", store / "work")]
            try:
                names = [f"/proc/self/fd/{fd}" for fd in fds]
                options = f"lowerdir={':'.join(names[:-2])},upperdir={names[-2]},workdir={names[-1]}"
                # nodev: a device node made inside (say, of the host's disk) must not open anything.
                # With a user namespace overlayfs works in the upper dir as the machine's root (see
                # idmap.acting_as): the host's own root ids cannot be written there.
                self.as_root(lambda: _mount_overlay(options, self.root))
            finally:
                for fd in fds:
                    os.close(fd)
        except BaseException:
            if userns is not None:
                os.close(userns)
            raise
        return userns

    def _check_mount_points(self) -> None:
        """Boot mounts /proc, /sys, /dev and /run with host tools, which follow links: each must be a
        real folder of the machine (nothing inside runs yet, so what is checked is what is mounted on)."""
        for name in MOUNT_POINTS:
            try:
                is_dir = stat.S_ISDIR(os.lstat(self.root / name).st_mode)
            except FileNotFoundError:
                self.as_root(lambda: os.mkdir(self.root / name, 0o755))
                continue
            if not is_dir:
                raise SandboxError(_("Machine {name} cannot start: its /{folder} is no longer a folder. Reset the "
                                     "lab with `maillab reset LAB` (this machine's changes are lost).",
                                     name=self.name, folder=name))

    def _write_identity(self, spec: MachineSpec) -> None:
        """/etc/hostname, /etc/hosts and /etc/resolv.conf, written without following any link of the
        machine: a learner's `ln -s /a/host/file /etc/hosts` gets replaced, never written through."""
        names = f"{spec.fqdn} {spec.hostname}" if spec.domain else spec.hostname
        hosts = ["127.0.0.1\tlocalhost", f"{spec.address or '127.0.1.1'}\t{names}", "::1\tlocalhost ip6-localhost ip6-loopback",
                 *spec.hosts]
        files = {"hostname": spec.hostname + "\n", "hosts": "\n".join(hosts) + "\n", "resolv.conf": spec.resolv_conf}
        try:
            for name, text in files.items():
                safefs.replace_file(self.root, f"etc/{name}", text.encode())
        except OSError as exc:
            raise SandboxError(_("Machine {name} cannot start: its /etc/{file} cannot be written ({error}). Reset "
                                 "the lab with `maillab reset LAB` (this machine's changes are lost).",
                                 name=self.name, file=name, error=exc.strerror)) from None

    def _wait_for_init(self, proc: subprocess.Popen, timeout: float = 10.0) -> int:
        """tini's host pid: unshare's child once it has exec'd tini."""
        deadline = time.monotonic() + timeout
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                reason = (self.dir / "boot.log").read_text(errors="replace").strip().splitlines()
                raise SandboxError(_("Machine {name} failed to boot: {detail}",
                                     name=self.name, detail=reason[-1] if reason else 'no output'))
            try:
                child = int(children.read_text().split()[0])
                if Path(f"/proc/{child}/cmdline").read_bytes().startswith(b"/usr/bin/tini\0"):
                    return child
            except (OSError, ValueError, IndexError):
                pass
            time.sleep(0.002)
        proc.kill()
        raise SandboxError(_("Machine {name} did not boot within {timeout:g} s.", name=self.name, timeout=timeout))

    def stop(self, *, remember_services: bool = True) -> None:
        """Power off: end every process inside, unmount; the learner's files stay, and the services
        running now start again at the next boot."""
        pid = self.pid
        if pid is not None and remember_services:
            try:
                spec = self.spec
                spec.services = self.running_services()
                self._save_spec(spec)
            except SandboxError:
                pass  # a machine too broken to answer still gets stopped
        # Killing PID 1 of the namespace ends everything inside. Then the cgroup names any strays
        # (a machine whose pid file was lost, a command still entering with nsenter).
        if pid is not None:
            procs.kill_and_wait([pid])
        procs.kill_and_wait(cgroups.pids(self.name) - {os.getpid()})
        (self.dir / "pid").unlink(missing_ok=True)
        _unmount_under(self.dir)
        cgroups.remove(self.name)

    def destroy(self) -> None:
        """Stop and delete everything of this machine."""
        if self.dir.exists():
            self.stop(remember_services=False)
            try:
                spec = self.spec
            except (SandboxError, ValueError, TypeError):
                spec = None
            shutil.rmtree(self.dir, ignore_errors=True)
            if spec is not None and spec.userns:
                uidrange.release(spec.uid_base, self.dir)

    def reset(self) -> None:
        """Back to the state its spec describes: the learner's changes are thrown away."""
        spec = self.spec
        Machine.create(self.name, spec)

    def freeze(self, layer: Path) -> list[str]:
        """Turn this machine's changes into a layer folder (for starting states); the machine is destroyed.

        Returns the services that were running, so machines booted from the layer start them too."""
        services = self.running_services()
        self.stop(remember_services=False)
        layer.parent.mkdir(parents=True, exist_ok=True)
        if layer.exists():
            shutil.rmtree(layer)
        if (self.dir / "disk.img").exists():
            # The disk stores the ids the machine sees, as layers do: a plain copy (with the
            # overlay's xattrs and whiteouts) is the layer.
            disk.mount(self.dir / "disk.img", self.dir / "disk")
            try:
                done = subprocess.run(["cp", "-a", "--preserve=all", str(self.dir / "disk" / "upper"), str(layer)],
                                      capture_output=True, text=True)
            finally:
                _unmount_under(self.dir)
            if done.returncode != 0:
                shutil.rmtree(layer, ignore_errors=True)
                raise SandboxError(_("Could not save the state of machine {name}: {error}",
                                     name=self.name, error=done.stderr.strip()))
        else:
            os.rename(self.dir / "upper", layer)
        self.destroy()
        return services

    # -- inside ------------------------------------------------------------------------------
    def enter_argv(self, argv: Sequence[str], *, tty: bool = False, env: dict | None = None,
                   cwd: str = "/root") -> list[str]:
        """A host argv that runs `argv` inside this machine as root, with a clean environment."""
        pid = self.pid
        if pid is None:
            raise MachineNotRunning(_("Machine {name} is not running: start it with `maillab lab start`.",
                                      name=self.name))
        variables = {"PATH": PATH, "HOME": "/root", "USER": "root", "LOGNAME": "root", "LANG": "C.UTF-8",
                     "SHELL": "/bin/bash", "TERM": os.environ.get("TERM", "xterm-256color") if tty else "dumb"}
        variables.update(env or {})
        # enter.py (host code) joins the cgroup, enters every namespace, drops the bounding set and loads
        # the seccomp filter before the first file of the machine runs.
        return [HOST_PYTHON, "-I", "-S", str(ENTER), "exec", str(pid), str(procs.start_time(pid)),
                ",".join(CAPABILITIES), "1" if self.spec.userns else "0", "1" if tty else "0", cwd,
                *self._cgroup_procs(), "--",
                *(f"{k}={v}" for k, v in variables.items()), "--", *argv]

    def _cgroup_procs(self) -> list[str]:
        """The files a process entering this machine writes itself into: `tasks` on cgroup v1 (it moves
        one thread without the thread-group lock, 20 ms faster; enter.py is single-threaded)."""
        name = "cgroup.procs" if cgroups._is_v2() else "tasks"
        return [str(d / name) for d in cgroups._dirs(self.name) if d.is_dir()]

    def exec(self, argv: Sequence[str], *, input: bytes | None = None, timeout: float = 10.0,
             env: dict | None = None, cwd: str = "/root") -> ExecResult:
        """Run a command inside; its exit code and output come back (raises CommandTimeout)."""
        host_argv = self.enter_argv(argv, env=env, cwd=cwd)
        return run_bounded(host_argv, input=input, timeout=timeout, shown_argv=argv)

    def running_services(self) -> list[str]:
        """Init scripts whose status says running (Debian's `service --status-all`)."""
        done = self.exec(["service", "--status-all"], timeout=20)
        return [line.split("]", 1)[1].strip() for line in done.out.splitlines() if "[ + ]" in line]

    def memory_usage(self) -> int | None:
        return cgroups.memory_usage(self.name)


_libc = ctypes.CDLL(None, use_errno=True)


def _mount_overlay(options: str, target: Path) -> None:
    if _libc.mount(b"overlay", os.fsencode(str(target)), b"overlay", MS_NODEV, options.encode()) != 0:
        err = os.strerror(ctypes.get_errno())
        raise SandboxError(_("Could not mount the file system of machine {name}: {error}. This host needs "
                             "overlayfs (run as root on Linux >= 5.19).", name=target.parent.name, error=err))


def _unmount_under(folder: Path) -> None:
    """Unmount everything mounted in `folder` (root, idmapped views, disk), deepest first."""
    prefix = str(folder.resolve()) + "/"
    try:
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    except OSError:
        return
    for target in sorted({m for m in mounts if m.startswith(prefix)}, key=len, reverse=True):
        target = target.replace("\\040", " ")
        if _libc.umount2(os.fsencode(target), 0) != 0:
            _libc.umount2(os.fsencode(target), 2)  # MNT_DETACH: gone when its last user lets go


def machine_of_path(path: str | os.PathLike) -> Machine | None:
    """The machine whose root holds `path` (links followed), or None for a path elsewhere."""
    try:
        real = Path(os.path.realpath(path))
        inside = real.relative_to(paths.machines_dir().resolve())
    except (OSError, ValueError):
        return None
    if len(inside.parts) < 2 or inside.parts[1] != "merged":
        return None
    machine = Machine(inside.parts[0])
    return machine if machine.exists() else None


def all_machines() -> list[Machine]:
    base = paths.machines_dir()
    if not base.is_dir():
        return []
    return [Machine(d.name) for d in sorted(base.iterdir()) if (d / "machine.json").is_file()]
