"""Host-side writes into a machine's file system that never follow the machine's links.

The machine's root may be full of a learner's symlinks (`ln -s /etc/shadow /etc/hosts`): every
component is opened relative to its parent's fd with O_NOFOLLOW, starting from the machine root,
and the file is replaced (written to a new name, then renamed over), never opened through a link.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def replace_file(root: Path, path: str, data: bytes, mode: int = 0o644) -> None:
    """Write `data` as the machine's file `path` (relative to its root). Folders on the way must be
    real folders (a link among them raises OSError ELOOP/ENOTDIR); whatever had the file's name
    (a link, a FIFO, a folder-less file) is replaced by a regular file."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise ValueError(f"not a plain relative path: {path!r}")
    fds = [os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
    try:
        for part in parts[:-1]:
            fds.append(os.open(part, _DIR, dir_fd=fds[-1]))
        parent, name = fds[-1], parts[-1]
        temp = f".{name}.maillab-new"
        try:
            os.unlink(temp, dir_fd=parent)
        except FileNotFoundError:
            pass
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=parent)
        try:
            _write_all(fd, data)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        try:
            if stat.S_ISDIR(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
                os.unlink(temp, dir_fd=parent)
                raise IsADirectoryError(21, "Is a directory", path)
        except FileNotFoundError:
            pass
        os.rename(temp, name, src_dir_fd=parent, dst_dir_fd=parent)
    finally:
        for fd in fds:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
