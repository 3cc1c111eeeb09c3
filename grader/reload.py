"""Is the running Postfix using main.cf as it is now? Compare the file's last change with the last
time Postfix's master started or reloaded, as its own log says (both in the machine's clock)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .host import Host

MAIN_CF = "/etc/postfix/main.cf"
_STAMP = "%Y %b %d %H:%M:%S"


@dataclass(frozen=True)
class ConfigLoad:
    """When a configuration file last changed, and when Postfix last (re)read its configuration."""
    path: str
    changed: datetime | None  # None: the file does not exist
    loaded: datetime | None   # None: the log shows no start or reload
    line: str = ""            # the log line of the last start or reload

    @property
    def live(self) -> bool:
        """The last start or reload came at or after the last change (log times have whole seconds,
        so a change and a reload within the same second count as reloaded)."""
        if self.changed is None or self.loaded is None:
            return False
        return self.loaded >= self.changed.replace(microsecond=0)


def is_start_or_reload(program: str, text: str) -> bool:
    return program == "postfix/master" and ("daemon started" in text or text.startswith("reload"))


def config_load(host: "Host", path: str = MAIN_CF) -> ConfigLoad:
    done = host.run("date", "-r", path, f"+{_STAMP}")
    changed = _parse(done.out.strip()) if done.ok else None
    now = host.run("date", "+%Y")
    year = now.out.strip() if now.ok else str(datetime.now().year)
    loads = [line for line in host.maillog().lines() if is_start_or_reload(line.program, line.text)]
    if not loads:
        return ConfigLoad(path, changed, None)
    last = loads[-1]
    stamp = last.timestamp if last.timestamp[:4].isdigit() else f"{year} {last.timestamp}"
    return ConfigLoad(path, changed, _parse(stamp), last.raw)


def _parse(text: str) -> datetime | None:
    if text[:4].isdigit() and "T" in text:  # an ISO 8601 log time, in the machine's local time
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None, microsecond=0)
        except ValueError:
            return None
    try:
        return datetime.strptime(" ".join(text.split()), _STAMP)
    except ValueError:
        return None
