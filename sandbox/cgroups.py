"""Memory and pids limits for a machine, on cgroup v1 or v2 (whichever the host has)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from . import paths

ROOT = Path("/sys/fs/cgroup")


def _is_v2() -> bool:
    return (ROOT / "cgroup.controllers").exists()


def _dirs(name: str) -> list[Path]:
    if _is_v2():
        return [ROOT / paths.host_tag() / name]
    return [ROOT / controller / paths.host_tag() / name for controller in ("memory", "pids") if (ROOT / controller).is_dir()]


def create(name: str, *, memory_bytes: int, pids: int) -> list[Path]:
    """Make the machine's cgroup(s) with their limits; returns the directories made."""
    if _is_v2():
        parent = ROOT / paths.host_tag()
        parent.mkdir(exist_ok=True)
        # Children only get the memory and pids files when the parent hands those controllers down.
        try:
            (ROOT / "cgroup.subtree_control").write_text("+memory +pids")
            (parent / "cgroup.subtree_control").write_text("+memory +pids")
        except OSError:
            pass
    made = []
    for d in _dirs(name):
        d.mkdir(parents=True, exist_ok=True)
        made.append(d)
        for filename, value in _limits(d, memory_bytes, pids):
            try:
                (d / filename).write_text(str(value))
            except OSError:
                pass  # a host without that controller runs the machine unlimited rather than not at all
    return made


def _limits(d: Path, memory_bytes: int, pids: int):
    # Swap would let a machine go past its memory cap: it gets none (where the host has swap accounting).
    if _is_v2():
        return [("memory.max", memory_bytes), ("memory.swap.max", 0), ("pids.max", pids)]
    if d.parts[len(ROOT.parts)] == "memory":
        return [("memory.limit_in_bytes", memory_bytes), ("memory.memsw.limit_in_bytes", memory_bytes)]
    return [("pids.max", pids)]


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
