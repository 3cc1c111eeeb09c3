"""Postfix's queue in a starting-state layer, named after the inode numbers its files have there.

Postfix names each queue file after its inode number (a short queue id is five hex digits of the
creation time's microseconds, then the inode number in hex), and `postfix start` refuses a queue
whose names do not match (its integrity check renames them and cannot log it: "Postfix integrity
check failed!"). A file that was copied up while a layer was made keeps the inode number of its
original inside that machine, but has a new one in the frozen layer. So, once frozen, each such
file is renamed to match, with its defer/bounce/trace logs, and its old name is whited out so
the copy below does not show through again.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

SPOOL = Path("var/spool/postfix")
QUEUES = ("incoming", "active", "deferred", "hold", "corrupt")
LOGS = ("defer", "bounce", "trace")
SHORT_ID = re.compile(r"^([0-9A-F]{5})([0-9A-F]+)$")


def renumber(layer: Path, lowers: list[str]) -> dict[str, str]:
    """Rename the queue files of `layer` (a root file system) to match their inode numbers there;
    `lowers` are the layers below it. Returns {old queue id: new queue id}."""
    renamed: dict[str, str] = {}
    for queue in QUEUES:
        for path in _files(layer / SPOOL / queue):
            match = SHORT_ID.match(path.name)
            if not match:
                continue  # not a short queue id (long ids do not hold the inode number)
            want = match.group(1) + format(path.lstat().st_ino, "X")
            if want != path.name:
                _rename(layer, path, want, lowers)
                renamed[path.name] = want
    for log in LOGS:
        for path in _files(layer / SPOOL / log):
            if path.name in renamed:
                _rename(layer, path, renamed[path.name], lowers)
    return renamed


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.rglob("*") if stat.S_ISREG(p.lstat().st_mode)]


def _rename(layer: Path, path: Path, name: str, lowers: list[str]) -> None:
    os.rename(path, path.with_name(name))
    relative = path.relative_to(layer)
    if any(os.path.lexists(Path(lower) / relative) for lower in lowers):
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))  # an overlay whiteout
