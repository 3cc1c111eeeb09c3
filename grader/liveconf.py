"""Is Postfix running with its configuration as it is on disk?

Postfix daemons read main.cf and master.cf when they start. `postfix reload` (or a restart) makes
them all start again, and the queue manager (qmgr), which always runs, is started anew within
milliseconds. So a file written after the running qmgr started has not been loaded: `postfix
reload` is missing. The ages come from the kernel's clocks (10 ms steps), so neither the log (which
a learner may empty) nor time zones matter. On a real machine the host reads them itself (the
process table from the host's /proc, the files by the no-follow walk): a `pgrep`, `stat` or `date`
replaced inside cannot make a stale configuration look loaded, nor a stopped Postfix look running.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .check import Fail
from .i18n import Msg, _

if TYPE_CHECKING:
    from .host import Host

MAIN_CF = "/etc/postfix/main.cf"
MASTER_PID = "/var/spool/postfix/pid/master.pid"
CONFIG_FILES = (MAIN_CF, "/etc/postfix/master.cf")
MARGIN = 0.05  # seconds: clock steps, and a change made in the same instant as a reload
RELOAD_SETTLES = 2.0  # seconds a reload (a new qmgr) may take to show before Postfix counts as not live

_PROBE = r"""
pid=$(pgrep -o -x qmgr) || { echo none; exit 0; }
read -r up _ < /proc/uptime
echo "$(getconf CLK_TCK) $up $(date +%s.%N)"
cut -d')' -f2- "/proc/$pid/stat"
for f in "$@"; do echo "$(stat -c %.Y "$f" 2>/dev/null || echo -) $f"; done
"""


@dataclass(frozen=True)
class Liveness:
    running: bool
    postfix_age: float | None = None  # seconds since Postfix last (re)loaded its configuration
    file_ages: dict[str, float | None] = field(default_factory=dict)  # seconds since each file was written

    @property
    def changed(self) -> tuple[str, ...]:
        """The files written after Postfix last loaded its configuration."""
        if self.postfix_age is None:
            return ()
        return tuple(path for path, age in self.file_ages.items()
                     if age is not None and age + MARGIN < self.postfix_age)

    @property
    def live(self) -> bool:
        """True when Postfix runs and started after the last change of every file."""
        return self.running and not self.changed

    @property
    def main_cf_age(self) -> float | None:
        return self.file_ages.get(MAIN_CF)

    @property
    def changed_ago(self) -> float:
        ages = [self.file_ages[path] for path in self.changed] or [self.main_cf_age]
        return min((a for a in ages if a is not None), default=0.0)

    @property
    def loaded_ago(self) -> float:
        return self.postfix_age or 0.0


def parse_liveness(out: str) -> Liveness:
    lines = out.splitlines()
    if not lines or lines[0].strip() in ("", "none"):
        return Liveness(running=False)
    try:
        ticks, uptime, now = lines[0].split()[:3]
        # After "pid (comm)": state is field 3 of /proc/PID/stat, starttime field 22.
        starttime = int(lines[1].split()[19])
        postfix_age = float(uptime) - starttime / int(ticks)
    except (IndexError, ValueError, ZeroDivisionError):  # a replaced getconf, date or /proc said nonsense
        return Liveness(running=True)
    ages: dict[str, float | None] = {}
    for line in lines[2:]:
        stamp, _sep, path = line.partition(" ")
        try:
            ages[path] = float(now) - float(stamp)
        except ValueError:
            ages[path] = None
    return Liveness(running=True, postfix_age=postfix_age, file_ages=ages)


def liveness(host: "Host", files: tuple[str, ...] = CONFIG_FILES) -> Liveness:
    machine = getattr(host.backend, "machine", None)
    if getattr(machine, "pid", None) is not None:
        return _liveness_from_host(host, machine, files)
    done = host.run("/bin/sh", "-c", _PROBE, "probe", *files)  # a backend without a kernel (unit tests' fakes)
    return parse_liveness(done.out)


def _liveness_from_host(host: "Host", machine, files: tuple[str, ...]) -> Liveness:
    from sandbox import procview

    started = []
    for proc in procview.processes(machine.name):
        if proc.comm == "qmgr":
            ticks = _start_ticks(proc.host_pid)
            if ticks is not None:
                started.append(ticks)
    if not started:
        return Liveness(running=False)
    postfix_age = _uptime() - min(started) / os.sysconf("SC_CLK_TCK")  # the oldest qmgr, as `pgrep -o`
    now = _wall_clock()
    ages: dict[str, float | None] = {}
    for path in files:
        info = host.backend.stat(path)
        ages[path] = None if info is None else now - info.st_mtime
    return Liveness(running=True, postfix_age=postfix_age, file_ages=ages)


def _uptime() -> float:
    """Seconds since the host booted (the clock of /proc/PID/stat's start times)."""
    with open("/proc/uptime") as uptime:
        return float(uptime.read().split()[0])


def _wall_clock() -> float:
    return time.time()


def _start_ticks(host_pid: int) -> int | None:
    """Field 22 of the host's /proc/PID/stat (clock ticks since boot), None when it ended meanwhile."""
    try:
        with open(f"/proc/{host_pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


@dataclass(frozen=True)
class Master:
    pid: int | None  # Postfix's master process as the machine numbers it, None when it does not run
    said: str        # what was seen, in words


def postfix_master(host: "Host") -> Master:
    """Is Postfix running? As `postfix status` decides it (the pid in master.pid is a live `master`
    process), but from the host: master.pid by the no-follow walk, the process from the kernel's table."""
    if getattr(host.backend, "kernel_processes", None) is None:  # unit tests' fakes: ask the machine
        done = host.run("postfix", "status")
        said = (done.err or done.out).strip().splitlines()
        return Master(0 if done.ok else None, said[-1] if said else "")
    pid_file = host.file(MASTER_PID)
    if not pid_file.is_file:
        return Master(None, _("{path} does not exist", path=MASTER_PID))
    text = pid_file.text.strip()
    if not text.isascii() or not text.isdigit():
        return Master(None, _("{path} holds no process number", path=MASTER_PID))
    pid = int(text)
    masters = [p for p in host.processes("master") if p.pid == pid and p.user == "root"]
    if not masters:
        return Master(None, _("{path} names process {pid}, but no Postfix master process runs with that number",
                              path=MASTER_PID, pid=pid))
    return Master(pid, _("the Postfix master process runs (pid {pid})", pid=pid))


def running_or_not(host: "Host", *, running: Msg, stopped: Msg) -> Msg:
    """The hint that fits what the grader sees: `running` when Postfix's master process runs, else
    `stopped`. A hint to `service postfix start` does nothing for a learner whose Postfix runs."""
    return running if postfix_master(host).pid is not None else stopped


def require_running(host: "Host") -> Msg:
    """A check's body: PASS when Postfix's master process runs, else a Fail saying what was seen."""
    master = postfix_master(host)
    if master.pid is None:
        raise Fail(_("Postfix is not running: {said}", said=master.said or _("not running")))
    return master.said if master.pid else _("Postfix is running")


def require_live(host: "Host", machine: str = "") -> Msg:
    """A check's body: PASS when Postfix runs with its configuration as saved, else a Fail saying
    what to do (start it, or reload it)."""
    where = _("on {machine}: ", machine=machine) if machine else ""
    # `postfix reload` returns once master has its signal; master then ends the old queue manager and
    # starts a new one, which on a busy host takes a moment: a check right after it waits for that.
    live = host.wait_for(lambda: liveness(host), within=RELOAD_SETTLES, until=lambda seen: seen.live)
    if not live.running:
        raise Fail(_("{where}Postfix is not running (no queue manager, qmgr)", where=where),
                   hint=_("Start Postfix: `service postfix start`."))
    if live.changed:
        raise Fail(_("{where}{files} changed {changed:.0f} s ago, but Postfix last loaded its configuration "
                     "{loaded:.0f} s ago", where=where, files=", ".join(live.changed),
                     changed=live.changed_ago, loaded=live.loaded_ago))  # the check's own hint says where
    return _("{where}Postfix loaded its configuration after the last change ({loaded:.0f} s ago)",
             where=where, loaded=live.loaded_ago)
