"""Is main.cf as it is on disk what the running Postfix uses?

Postfix daemons read main.cf when they start. `postfix reload` (or a restart) makes them all start
again, and the queue manager (qmgr), which always runs, is started anew within milliseconds. So a
main.cf written after the running qmgr started has not been loaded: `postfix reload` is missing.
Both ages are measured inside the machine in one command, on the kernel's clocks (10 ms steps).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .host import Host

MAIN_CF = "/etc/postfix/main.cf"
MARGIN = 0.05  # seconds: clock steps, and a change made in the same instant as a reload

_PROBE = r"""
pid=$(pgrep -o -x qmgr) || { echo none; exit 0; }
read -r up _ < /proc/uptime
echo "$(getconf CLK_TCK) $up $(date +%s.%N) $(stat -c %.Y "$1" 2>/dev/null || echo -) $(cut -d')' -f2- /proc/$pid/stat)"
"""


@dataclass(frozen=True)
class Liveness:
    running: bool
    main_cf_age: float | None = None  # seconds since main.cf was written
    postfix_age: float | None = None  # seconds since Postfix last (re)loaded its configuration

    @property
    def live(self) -> bool:
        """True when the running Postfix started after main.cf's last change."""
        if not self.running or self.main_cf_age is None or self.postfix_age is None:
            return self.running
        return self.main_cf_age + MARGIN >= self.postfix_age

    @property
    def changed_ago(self) -> float:
        return self.main_cf_age or 0.0

    @property
    def loaded_ago(self) -> float:
        return self.postfix_age or 0.0


def parse_liveness(out: str) -> Liveness:
    fields = out.split()
    if not fields or fields[0] == "none":
        return Liveness(running=False)
    try:
        ticks, uptime, now = int(fields[0]), float(fields[1]), float(fields[2])
        mtime = None if fields[3] == "-" else float(fields[3])
        # After "pid (comm)": state is field 3 of /proc/PID/stat, starttime field 22.
        starttime = int(fields[4 + 19])
    except (IndexError, ValueError):
        return Liveness(running=True)
    return Liveness(running=True, main_cf_age=None if mtime is None else now - mtime,
                    postfix_age=uptime - starttime / ticks)


def liveness(host: "Host", main_cf: str = MAIN_CF) -> Liveness:
    done = host.run("/bin/sh", "-c", _PROBE, "probe", main_cf)
    return parse_liveness(done.out)
