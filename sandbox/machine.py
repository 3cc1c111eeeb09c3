"""A lab machine: an overlay root on the image, its own namespaces, tini as PID 1.

On the host a machine is a folder under machines/NAME: `upper/` (what the learner changed),
`merged/` (the machine's root, readable by the grader), `machine.json` (how to boot it) and
`pid` (tini's host pid while it runs). Commands enter it with nsenter and run as root inside,
with the capabilities a mail server needs and no more.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from . import cgroups, paths, procs
from .errors import MachineNotRunning, SandboxError
from .result import ExecResult
from .runner import run_bounded

BOOT = Path(__file__).with_name("boot.sh")
# What a learner's root keeps (Docker's default set without mknod): enough to run and configure mail servers;
# no module loading, raw I/O, reboot, clock, mounting or other administration of the host.
CAPABILITIES = ("chown", "dac_override", "fsetid", "fowner", "net_raw", "setgid", "setuid",
                "setfcap", "setpcap", "net_bind_service", "sys_chroot", "kill", "audit_write")
BOUNDING_SET = "-all," + ",".join("+" + cap for cap in CAPABILITIES)
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class MachineSpec:
    hostname: str = "mail"
    domain: str = "example.test"
    lowers: list[str] = field(default_factory=list)  # layer folders, top first, the image last
    memory_mb: int = 512
    pids: int = 512
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
            raise SandboxError(f"{name!r} is not a valid machine name.")
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
            return MachineSpec(**json.loads((self.dir / "machine.json").read_text()))
        except FileNotFoundError:
            raise MachineNotRunning(f"There is no machine called {self.name}: start the lab first.") from None

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
        for sub in ("upper", "work", "merged"):
            (machine.dir / sub).mkdir(parents=True, exist_ok=True)
        (machine.dir / "machine.json").write_text(json.dumps(asdict(spec), indent=2))
        try:
            machine.start()
        except BaseException:
            machine.destroy()  # nothing half-made stays behind
            raise
        return machine

    def start(self) -> None:
        """Boot the machine from its folder (after a stop, the learner's files are kept)."""
        if self.running():
            return
        spec = self.spec
        for lower in spec.lowers:
            if not Path(lower).is_dir():
                raise SandboxError(f"Machine {self.name} was made from a lab image or starting state that no longer "
                                   "exists (the image was rebuilt): reset the lab with `maillab reset LAB` "
                                   "(this machine's changes are lost).")
        self._mount(spec)
        self._write_identity(spec)
        cgroups.create(self.name, memory_bytes=spec.memory_mb * 1024 * 1024, pids=spec.pids)
        if spec.netns and not os.path.exists(spec.netns):
            raise SandboxError(f"The lab network of machine {self.name} is not up: start the lab again.")
        # In a lab network the machine joins the namespace the network made for it; else it gets its own.
        net = ["nsenter", f"--net={spec.netns}", "--"] if spec.netns else []
        log = open(self.dir / "boot.log", "wb")
        proc = subprocess.Popen(
            [*net, "unshare", "--mount", "--uts", "--ipc", *([] if spec.netns else ["--net"]), "--pid", "--fork",
             "--kill-child", "--propagation", "private", "--",
             "/bin/sh", str(BOOT), str(self.root), spec.hostname, BOUNDING_SET],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            preexec_fn=lambda: cgroups.join(self.name),
        )
        log.close()
        pid = self._wait_for_init(proc)
        (self.dir / "pid").write_text(f"{pid} {procs.start_time(pid)}")
        for service in spec.services:
            self.exec(["service", service, "start"], timeout=30)

    def _mount(self, spec: MachineSpec) -> None:
        if os.path.ismount(self.root):
            return
        options = f"lowerdir={':'.join(spec.lowers)},upperdir={self.dir / 'upper'},workdir={self.dir / 'work'}"
        # nodev: a device node made inside (say, of the host's disk) must not open anything.
        done = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", "nodev," + options, str(self.root)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SandboxError(f"Could not mount the file system of machine {self.name}: {done.stderr.strip()}. "
                               "This host needs overlayfs (run as root on Linux >= 5.11).")

    def _write_identity(self, spec: MachineSpec) -> None:
        etc = self.root / "etc"
        (etc / "hostname").write_text(spec.hostname + "\n")
        names = f"{spec.fqdn} {spec.hostname}" if spec.domain else spec.hostname
        hosts = ["127.0.0.1\tlocalhost", f"{spec.address or '127.0.1.1'}\t{names}", "::1\tlocalhost ip6-localhost ip6-loopback",
                 *spec.hosts]
        (etc / "hosts").write_text("\n".join(hosts) + "\n")
        resolv = etc / "resolv.conf"
        if resolv.is_symlink():
            resolv.unlink()
        resolv.write_text(spec.resolv_conf)

    def _wait_for_init(self, proc: subprocess.Popen, timeout: float = 10.0) -> int:
        """tini's host pid: unshare's child once it has exec'd tini."""
        deadline = time.monotonic() + timeout
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                reason = (self.dir / "boot.log").read_text(errors="replace").strip().splitlines()
                raise SandboxError(f"Machine {self.name} failed to boot: {reason[-1] if reason else 'no output'}")
            try:
                child = int(children.read_text().split()[0])
                if Path(f"/proc/{child}/cmdline").read_bytes().startswith(b"/usr/bin/tini\0"):
                    return child
            except (OSError, ValueError, IndexError):
                pass
            time.sleep(0.002)
        proc.kill()
        raise SandboxError(f"Machine {self.name} did not boot within {timeout:g} s.")

    def stop(self, *, remember_services: bool = True) -> None:
        """Power off: end every process inside, unmount; the learner's files stay, and the services
        running now start again at the next boot."""
        pid = self.pid
        if pid is not None and remember_services:
            try:
                spec = self.spec
                spec.services = self.running_services()
                (self.dir / "machine.json").write_text(json.dumps(asdict(spec), indent=2))
            except SandboxError:
                pass  # a machine too broken to answer still gets stopped
        # Killing PID 1 of the namespace ends everything inside. Then the cgroup names any strays
        # (a machine whose pid file was lost, a command still entering with nsenter).
        if pid is not None:
            procs.kill_and_wait([pid])
        procs.kill_and_wait(cgroups.pids(self.name) - {os.getpid()})
        (self.dir / "pid").unlink(missing_ok=True)
        if os.path.ismount(self.root):
            done = subprocess.run(["umount", str(self.root)], capture_output=True, text=True)
            if done.returncode != 0:
                subprocess.run(["umount", "-l", str(self.root)], capture_output=True)
        cgroups.remove(self.name)

    def destroy(self) -> None:
        """Stop and delete everything of this machine."""
        if self.dir.exists():
            self.stop(remember_services=False)
            shutil.rmtree(self.dir, ignore_errors=True)

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
        os.rename(self.dir / "upper", layer)
        self.destroy()
        return services

    # -- inside ------------------------------------------------------------------------------
    def enter_argv(self, argv: Sequence[str], *, tty: bool = False, env: dict | None = None,
                   cwd: str = "/root") -> list[str]:
        """A host argv that runs `argv` inside this machine as root, with a clean environment."""
        pid = self.pid
        if pid is None:
            raise MachineNotRunning(f"Machine {self.name} is not running: start it with `maillab lab start`.")
        variables = {"PATH": PATH, "HOME": "/root", "USER": "root", "LOGNAME": "root", "LANG": "C.UTF-8",
                     "SHELL": "/bin/bash", "TERM": os.environ.get("TERM", "xterm-256color") if tty else "dumb"}
        variables.update(env or {})
        return ["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w",
                "/usr/bin/setpriv", "--pdeathsig", "KILL", "--bounding-set", BOUNDING_SET, "--",
                "/usr/bin/env", "-i", "-C", cwd, *(f"{k}={v}" for k, v in variables.items()), *argv]

    def exec(self, argv: Sequence[str], *, input: bytes | None = None, timeout: float = 10.0,
             env: dict | None = None, cwd: str = "/root") -> ExecResult:
        """Run a command inside; its exit code and output come back (raises CommandTimeout)."""
        host_argv = self.enter_argv(argv, env=env, cwd=cwd)
        return run_bounded(host_argv, input=input, timeout=timeout, shown_argv=argv,
                           preexec_fn=lambda: cgroups.join(self.name))

    def running_services(self) -> list[str]:
        """Init scripts whose status says running (Debian's `service --status-all`)."""
        done = self.exec(["service", "--status-all"], timeout=20)
        return [line.split("]", 1)[1].strip() for line in done.out.splitlines() if "[ + ]" in line]

    def memory_usage(self) -> int | None:
        return cgroups.memory_usage(self.name)


def all_machines() -> list[Machine]:
    base = paths.machines_dir()
    if not base.is_dir():
        return []
    return [Machine(d.name) for d in sorted(base.iterdir()) if (d / "machine.json").is_file()]
