"""Limits for a machine, on cgroup v1 or v2 (whichever the host has).

Each machine has a cgroup of its own inside one per learner, so caps hold twice: per machine (what
its `lab.toml` says) and per learner (the sum of all their machines and lab networks, whatever
number of labs they start):

    /sys/fs/cgroup[/CONTROLLER]/maillab/LEARNER/LEARNER--LAB--MACHINE
    /sys/fs/cgroup[/CONTROLLER]/maillab/LEARNER/net--LEARNER--LAB      (the lab network's servers)

Memory counts socket buffers too: cgroup v2 charges them to memory.max itself; v1 keeps them apart,
so they get a cap of their own (memory.kmem.tcp.limit_in_bytes, a quarter of the memory cap), set
before the first socket exists (v1 only starts counting them once that limit is written). CPU is
shared by weight between learners (every learner the same share, however many machines they run),
and each machine has a quota of cores (`cpu` in lab.toml) so one learner's busy loops cannot take
both cores from the others.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from . import paths

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS_V1 = ("memory", "pids", "cpu")
LEARNER_MEMORY = 1536 * 2**20  # all of one learner's machines and lab networks together
LEARNER_PIDS = 1536
CPU_PERIOD_US = 100_000
TCP_SHARE = 4  # v1: socket buffers may use a quarter of the memory cap


def _is_v2() -> bool:
    return (ROOT / "cgroup.controllers").exists()


def learner_of(name: str) -> str | None:
    """The learner a machine or lab network belongs to, from its name (LEARNER--LAB--MACHINE or
    net--LEARNER--LAB); None for other names, which sit directly under MailLab's cgroup."""
    parts = name.split("--")
    if parts[0] == "net":
        parts = parts[1:]
    return parts[0] if len(parts) >= 2 and parts[0] else None


def _bases() -> list[Path]:
    if _is_v2():
        return [ROOT / paths.host_tag()]
    return [ROOT / controller / paths.host_tag() for controller in CONTROLLERS_V1 if (ROOT / controller).is_dir()]


def _learner_dirs(name: str) -> list[Path]:
    learner = learner_of(name)
    return [base / learner for base in _bases()] if learner else []


def _dirs(name: str) -> list[Path]:
    learner = learner_of(name)
    return [(base / learner / name) if learner else (base / name) for base in _bases()]


def create(name: str, *, memory_bytes: int, pids: int, cpu: float = 1.0) -> list[Path]:
    """Make the machine's cgroup(s) with their limits (cpu: cores it may use at most; 0 for no
    quota); returns the directories made."""
    if _is_v2():
        # Children only get the controllers' files when each parent hands them down.
        for parent in [ROOT, ROOT / paths.host_tag(), *(_learner_dirs(name))]:
            parent.mkdir(exist_ok=True)
            for controller in ("memory", "pids", "cpu", "io"):
                try:
                    (parent / "cgroup.subtree_control").write_text("+" + controller)
                except OSError:
                    pass  # not on this host: that part of the limits is missing, the machine still runs
    for d in _learner_dirs(name):
        if not d.is_dir():
            d.mkdir(parents=True, exist_ok=True)
            _write(d, _learner_limits(d))
    made = []
    for d in _dirs(name):
        d.mkdir(parents=True, exist_ok=True)
        made.append(d)
        _write(d, _limits(d, memory_bytes, pids, cpu))
    return made


def _write(d: Path, limits) -> None:
    for filename, value in limits:
        try:
            (d / filename).write_text(str(value))
        except OSError:
            pass  # a host without that controller runs the machine unlimited rather than not at all


def _controller(d: Path) -> str:
    return "v2" if _is_v2() else d.parts[len(ROOT.parts)]


def _learner_limits(d: Path):
    kind = _controller(d)
    if kind == "v2":
        return [("memory.max", LEARNER_MEMORY), ("memory.swap.max", 0), ("pids.max", LEARNER_PIDS),
                ("cpu.weight", 100)]
    return {"memory": [("memory.limit_in_bytes", LEARNER_MEMORY), ("memory.memsw.limit_in_bytes", LEARNER_MEMORY),
                       ("memory.kmem.tcp.limit_in_bytes", LEARNER_MEMORY // TCP_SHARE)],
            "pids": [("pids.max", LEARNER_PIDS)],
            "cpu": [("cpu.shares", 1024)]}.get(kind, [])


def _limits(d: Path, memory_bytes: int, pids: int, cpu: float):
    # Swap would let a machine go past its memory cap: it gets none (where the host has swap accounting).
    quota = int(cpu * CPU_PERIOD_US) if cpu > 0 else -1
    kind = _controller(d)
    if kind == "v2":
        return [("memory.max", memory_bytes), ("memory.swap.max", 0), ("pids.max", pids),
                ("cpu.max", f"{quota if quota > 0 else 'max'} {CPU_PERIOD_US}")]
    return {"memory": [("memory.limit_in_bytes", memory_bytes), ("memory.memsw.limit_in_bytes", memory_bytes),
                       ("memory.kmem.tcp.limit_in_bytes", memory_bytes // TCP_SHARE)],
            "pids": [("pids.max", pids)],
            "cpu": [("cpu.cfs_period_us", CPU_PERIOD_US), ("cpu.cfs_quota_us", quota)]}.get(kind, [])


def join(name: str) -> None:
    """Move the calling process into the machine's cgroup(s) (used in a child before exec)."""
    pid = str(os.getpid())
    for d in _dirs(name):
        procs = d / ("cgroup.procs" if _is_v2() else "tasks")
        try:
            procs.write_text(pid)
        except OSError:
            pass


def pids(name: str) -> set[int]:
    """Every process in the machine's cgroup(s), wherever it came from."""
    found: set[int] = set()
    for d in _dirs(name):
        try:
            found |= {int(x) for x in (d / ("cgroup.procs" if _is_v2() else "tasks")).read_text().split()}
        except (OSError, ValueError):
            pass
    return found


def remove(name: str, wait: float = 2.0) -> None:
    """Remove the machine's cgroup(s); the last processes may take a moment to leave them."""
    deadline = time.monotonic() + wait
    for d in _dirs(name):
        while d.exists():
            try:
                d.rmdir()
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.005)
    for d in _learner_dirs(name):
        try:
            d.rmdir()  # the learner's last machine or network: their cgroup goes too
        except OSError:
            pass  # another of their machines still runs


def sweep(prefix: str) -> None:
    """Remove the empty cgroups named PREFIX... directly under MailLab's (those of ended processes)."""
    for base in _bases():
        try:
            found = [d for d in base.iterdir() if d.is_dir() and d.name.startswith(prefix)]
        except OSError:
            continue
        for d in found:
            try:
                d.rmdir()
            except OSError:
                pass  # still in use


def memory_usage(name: str) -> int | None:
    for d in _dirs(name):
        for filename in ("memory.current", "memory.usage_in_bytes"):
            try:
                return int((d / filename).read_text())
            except (OSError, ValueError):
                continue
    return None


def counters(name: str) -> dict[str, int]:
    """What the caps did so far: processes killed for memory (oom_kills), forks refused at the
    pids cap (pids_refused), and the processes now (pids)."""
    found = {"oom_kills": 0, "pids_refused": 0, "pids": 0}
    for d in _dirs(name):
        for filename, key, word in (("memory.events", "oom_kills", "oom_kill"),
                                    ("memory.oom_control", "oom_kills", "oom_kill"),
                                    ("pids.events", "pids_refused", "max")):
            try:
                for line in (d / filename).read_text().splitlines():
                    label, _, value = line.partition(" ")
                    if label == word:
                        found[key] = max(found[key], int(value))
            except (OSError, ValueError):
                continue
        try:
            found["pids"] = max(found["pids"], int((d / "pids.current").read_text()))
        except (OSError, ValueError):
            pass
    return found
