"""Blocks of host uids for machines with a user namespace: one block of 65536 per machine, never two
machines on one block, whichever MailLab installation (state folder) made them.

The register is host-wide (one folder, whatever $MAILLAB_HOME is): a file per block in use, made
with O_EXCL so two processes never take the same one, holding the machine folder that owns it. A
block whose machine folder is gone (deleted by hand, a crashed test) is taken back.

The blocks start at 0x70000000, above the ranges that /etc/subuid (100000 and up), systemd-nspawn
(0x80000-0x6FFFFFFF) and systemd's foreign range (0x7FFE0000) hand out.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from . import paths
from .errors import SandboxError, _
from .idmap import IDS

FIRST = 0x70000000
BLOCKS = (0x7FFE0000 - FIRST) // IDS  # 4094


def register() -> Path:
    return Path(paths.DEFAULT_HOME) / "uid-blocks"


def allocate(owner: Path) -> int:
    """The first free block's base uid, now owned by the machine folder `owner`."""
    folder = register()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for block in range(BLOCKS):
        entry = folder / str(block)
        for _attempt in range(2):
            try:
                fd = os.open(entry, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                if _stale(entry, FIRST + block * IDS):
                    entry.unlink(missing_ok=True)
                    continue
                break
            with os.fdopen(fd, "w") as out:
                out.write(str(owner.resolve()))
            return FIRST + block * IDS
    raise SandboxError(_("All {blocks} uid blocks for lab machines are in use: destroy unused machines (`maillab "
                         "down --all`) or turn user namespaces off with MAILLAB_USERNS=0.", blocks=BLOCKS))


def release(base: int, owner: Path) -> None:
    """Give the block back (only if `owner` still holds it)."""
    if base < FIRST or (base - FIRST) % IDS:
        return
    entry = register() / str((base - FIRST) // IDS)
    try:
        if entry.read_text() == str(owner.resolve()):
            entry.unlink()
    except OSError:
        pass


def _stale(entry: Path, base: int) -> bool:
    """True when the machine that took this block no longer exists or has another block."""
    try:
        owner = Path(entry.read_text())
    except OSError:
        return False
    if not str(owner):
        return False  # being written right now
    try:
        spec = json.loads((owner / "machine.json").read_text())
    except FileNotFoundError:
        return not owner.exists()  # a folder without machine.json is being created
    except (OSError, ValueError):
        return False
    return spec.get("uid_base") != base
