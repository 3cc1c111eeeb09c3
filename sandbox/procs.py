"""Host processes that MailLab starts: remembered by pid and start time, ended by pid."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def kill_and_wait(pids, timeout: float = 5.0) -> None:
    for victim in pids:
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while any(alive(v) for v in pids) and time.monotonic() < deadline:
        time.sleep(0.002)


def alive(pid: int) -> bool:
    """True while the process runs (a zombie waiting for its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def start_time(pid: int) -> int | None:
    """When a process started (clock ticks since boot: field 22 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def remember(pid_file: Path, pid: int) -> None:
    """Note a started process (its start time tells it from a later process that reuses the pid)."""
    pid_file.write_text(f"{pid} {start_time(pid)}")


def recall(pid_file: Path) -> int | None:
    """The remembered process's pid while it still runs, else None."""
    try:
        pid, started = (int(x) for x in pid_file.read_text().split())
    except (OSError, ValueError):
        return None
    return pid if start_time(pid) == started and alive(pid) else None
