"""Is Postfix running with the configuration on disk? A main.cf or master.cf changed after Postfix
last started or reloaded is not live yet (running daemons keep the old values): `postfix reload`.

The time of the last start or reload comes from the mail log (postfix/master's "daemon started" or
"reload" line); the machine itself turns the log's time stamp into seconds (`date -d`), so its own
time zone applies to both."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .maillog import LogLine

if TYPE_CHECKING:
    from .host import Host

CONFIG_FILES = ("/etc/postfix/main.cf", "/etc/postfix/master.cf")


@dataclass(frozen=True)
class ConfigAge:
    changed: tuple[str, ...]     # files changed after the last start or reload
    last_start: LogLine | None   # that start or reload (None: the log does not say)

    @property
    def live(self) -> bool:
        return not self.changed


def last_start_or_reload(lines: list[LogLine]) -> LogLine | None:
    for line in reversed(lines):
        if line.program.endswith("postfix/master") and (
                line.text.startswith("daemon started") or line.text.startswith("reload")):
            return line
    return None


def config_age(host: "Host", files: tuple[str, ...] = CONFIG_FILES) -> ConfigAge:
    """Which of `files` changed after Postfix last started or reloaded. When the log does not say
    when that was, nothing is reported as changed (the check cannot tell)."""
    last = last_start_or_reload(host.maillog().lines())
    if last is None:
        return ConfigAge((), None)
    done = host.run("date", "-d", last.timestamp, "+%s")
    if not done.ok or not done.out.strip().isdigit():
        return ConfigAge((), last)
    started = int(done.out.strip())
    # Whole seconds: an edit and a reload within the same second count as reloaded.
    changed = tuple(path for path in files
                    if (mtime := host.file(path).mtime) is not None and int(mtime) > started)
    return ConfigAge(changed, last)
