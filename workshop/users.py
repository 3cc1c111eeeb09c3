"""Removing a workshop's system users again (tests and benchmarks make them by the dozen)."""
from __future__ import annotations

import os
import pwd
import signal
import subprocess
from pathlib import Path


def users_with_prefix(prefix: str) -> list[str]:
    return [u.pw_name for u in pwd.getpwall() if u.pw_name.startswith(prefix)]


def processes_of(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def remove_users(prefix: str, group: str | None = None) -> list[str]:
    """Delete every user whose name starts with prefix (their processes, homes and own groups),
    their lab machines, and the workshop's group. Returns the names removed."""
    from sandbox import all_machines, paths

    for machine in all_machines():
        if machine.name.startswith(prefix):
            machine.destroy()
    removed = users_with_prefix(prefix)
    for name in removed:
        for pid in processes_of(pwd.getpwnam(name).pw_uid):  # userdel refuses while they run
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["userdel", "--remove", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)
        # what MailLab remembers of them (the lab each started last)
        (paths.home() / "learners" / f"{name}.json").unlink(missing_ok=True)
    if group:
        subprocess.run(["groupdel", group], capture_output=True)
    return removed
