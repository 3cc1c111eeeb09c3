"""Is Postfix running with its configuration as it is on disk?

Postfix daemons read main.cf and master.cf when they start. `postfix reload` (or a restart) makes
them all start again, and the queue manager (qmgr), which always runs, is started anew within
milliseconds. So a file written after the running qmgr started has not been loaded: `postfix
reload` is missing. The ages are measured inside the machine in one command, on the kernel's
clocks (10 ms steps), so neither the log (which a learner may empty) nor time zones matter.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .check import Fail
from .i18n import Msg, _

if TYPE_CHECKING:
    from .host import Host

MAIN_CF = "/etc/postfix/main.cf"
CONFIG_FILES = (MAIN_CF, "/etc/postfix/master.cf")
MARGIN = 0.05  # seconds: clock steps, and a change made in the same instant as a reload

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
    done = host.run("/bin/sh", "-c", _PROBE, "probe", *files)
    return parse_liveness(done.out)


def require_live(host: "Host", machine: str = "") -> Msg:
    """A check's body: PASS when Postfix runs with its configuration as saved, else a Fail saying
    what to do (start it, or reload it)."""
    where = _("on {machine}: ", machine=machine) if machine else ""
    live = liveness(host)
    if not live.running:
        raise Fail(_("{where}Postfix is not running (no queue manager, qmgr)", where=where),
                   hint=_("Start Postfix: `service postfix start`."))
    if live.changed:
        raise Fail(_("{where}{files} changed {changed:.0f} s ago, but Postfix last loaded its configuration "
                     "{loaded:.0f} s ago", where=where, files=", ".join(live.changed),
                     changed=live.changed_ago, loaded=live.loaded_ago))  # the check's own hint says where
    return _("{where}Postfix loaded its configuration after the last change ({loaded:.0f} s ago)",
             where=where, loaded=live.loaded_ago)
