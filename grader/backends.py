"""The backend a Host runs on: a sandbox machine, its files read from the host without following
a link out of it (the fake for unit tests is in grader.testing)."""
from __future__ import annotations

import errno
import os
import stat as stat_module
from pathlib import Path
from typing import Protocol, Sequence

from sandbox.errors import SandboxError
from sandbox.result import ExecResult

from .host import READ_LIMIT
from .i18n import _

MAX_SYMLINK_HOPS = 40
# A learner can fill a directory with millions of names; a probe looks at this many at most.
MAX_LISTING = 100_000
# The grader parses command output, so it must not change with the learner's locale.
COMMAND_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL": "C.UTF-8",
    "LANG": "C.UTF-8",
}

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class MachineLike(Protocol):
    name: str
    root: Path

    def exec(self, argv: Sequence[str], *, input: bytes | None = None, timeout: float = 10.0,
             env: dict[str, str] | None = None) -> ExecResult: ...


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


class _Walk:
    """Directory fds from the machine root down to the parent of a path's last component.

    Every component is opened relative to its parent's fd with O_NOFOLLOW, and symlinks are
    read and resolved here against the machine root, so neither a learner's symlink nor `..`
    nor a symlink swapped in mid-walk can lead outside the machine's file system.
    """

    def __init__(self, root: Path, path: str) -> None:
        self.path = path
        if "\0" in path:  # e.g. a path printed by a replaced `postconf`: no file has such a name
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path.replace("\0", "\\0"))
        self.stack = [os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
        self.name: str | None = None  # None: the path is the directory stack[-1] itself
        try:
            self._resolve()
        except BaseException:
            self.close()
            raise

    def _resolve(self) -> None:
        pending = list(reversed(_components(self.path)))
        hops = 0
        while pending:
            name = pending.pop()
            if name == "..":
                if len(self.stack) > 1:  # `..` at the root stays at the root, as in chroot
                    os.close(self.stack.pop())
                continue
            info = self._lstat(name)
            if stat_module.S_ISLNK(info.st_mode):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), self.path)
                target = os.readlink(name, dir_fd=self.stack[-1])
                if target.startswith("/"):
                    while len(self.stack) > 1:
                        os.close(self.stack.pop())
                pending.extend(reversed(_components(target)))
                continue
            if not pending:
                self.name = name
                return
            try:
                self.stack.append(os.open(name, _DIR_FLAGS, dir_fd=self.stack[-1]))
            except OSError as exc:
                raise type(exc)(exc.errno, exc.strerror, self.path) from None

    def _lstat(self, name: str) -> os.stat_result:
        try:
            return os.stat(name, dir_fd=self.stack[-1], follow_symlinks=False)
        except OSError as exc:
            # Report the machine's path, never the host's.
            raise type(exc)(exc.errno, exc.strerror, self.path) from None

    @property
    def dir_fd(self) -> int:
        return self.stack[-1]

    def final_stat(self) -> os.stat_result:
        if self.name is None:
            return os.fstat(self.dir_fd)
        return self._lstat(self.name)

    def close(self) -> None:
        while self.stack:
            os.close(self.stack.pop())

    def __enter__(self) -> "_Walk":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


DISK_FULL = _("The machine's disk is full, so commands fail: delete big files you made there (`du -xsh /root /var/*` "
              "finds them), or reset the lab (`maillab reset LAB`).")
_STAT_EXTRA = ("st_atime", "st_mtime", "st_ctime", "st_atime_ns", "st_mtime_ns", "st_ctime_ns", "st_blksize",
               "st_blocks", "st_rdev")


class MachineBackend:
    """Runs commands in a sandbox machine; reads its files through its root on the host."""

    def __init__(self, machine: MachineLike) -> None:
        self.machine = machine
        self._ids: dict[int, int] = {}  # host id -> the machine's (its spec is read once per id, not per stat)

    def _inside_id(self, host: int) -> int:
        inside = getattr(self.machine, "inside_uid", None)
        if inside is None:
            return host
        if host not in self._ids:
            self._ids[host] = inside(host)
        return self._ids[host]

    @property
    def root(self) -> Path:
        return Path(self.machine.root)

    def run(self, argv: Sequence[str], *, input: bytes | None = None,
            timeout: float) -> ExecResult:
        done = self.machine.exec(list(argv), input=input, timeout=timeout, env=dict(COMMAND_ENV))
        disk_full = getattr(self.machine, "disk_full", None)
        if done.returncode != 0 and disk_full is not None and disk_full():
            raise SandboxError(DISK_FULL)
        return done

    def kernel_processes(self) -> list[tuple[int, int, str, str]]:
        """(pid inside, uid inside, comm, args) of every process of the machine, from the host's /proc."""
        from sandbox import procview

        return [(p.pid, self._inside_id(p.uid), p.comm, p.args) for p in procview.processes(self.machine.name)]

    def kernel_sockets(self, proto: str) -> list[tuple[str, int, tuple[str, ...]]]:
        """(address, port, programs) of the machine's listening sockets, from the host's /proc."""
        from sandbox import procview

        pid = self.machine.pid
        if pid is None:
            raise SandboxError(_("The machine is not running."))
        owners = procview.socket_owners(procview.processes(self.machine.name))
        return [(s.address, s.port, tuple(owners.get(s.inode, ()))) for s in procview.sockets(pid, proto)]

    def run_trusted(self, argv: Sequence[str], files: dict[str, bytes], *, opaque: Sequence[str] = (),
                    timeout: float) -> ExecResult:
        """A trusted program (sandbox/trusted.py) with copies of the machine's files."""
        from sandbox import trusted

        return trusted.run(self.machine, argv, files, opaque=opaque, timeout=timeout)

    def stat(self, path: str) -> os.stat_result | None:
        try:
            with _Walk(self.root, path) as walk:
                return self._as_inside(walk.final_stat())
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENAMETOOLONG):  # like `test -e` on a symlink loop
                return None
            raise

    def _as_inside(self, info: os.stat_result) -> os.stat_result:
        """The owner the machine itself sees (with a user namespace the host sees a shifted uid)."""
        if getattr(self.machine, "inside_uid", None) is None:
            return info
        values = list(info)
        values[4], values[5] = self._inside_id(info.st_uid), self._inside_id(info.st_gid)
        extra = {name: getattr(info, name) for name in _STAT_EXTRA if hasattr(info, name)}
        return os.stat_result(values, extra)

    def read_bytes(self, path: str, limit: int = READ_LIMIT, *, offset: int = 0) -> bytes:
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        with _Walk(self.root, path) as walk:
            info = walk.final_stat()
            if walk.name is None or stat_module.S_ISDIR(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            if not stat_module.S_ISREG(info.st_mode):
                # A FIFO or device planted by the learner would block or misbehave when read.
                raise OSError(errno.EINVAL, "not a regular file", path)
            fd = os.open(walk.name, _FILE_FLAGS, dir_fd=walk.dir_fd)
            try:
                if not stat_module.S_ISREG(os.fstat(fd).st_mode):
                    raise OSError(errno.EINVAL, "not a regular file", path)
                chunks, wanted, at = [], limit, offset
                while wanted > 0:
                    chunk = os.pread(fd, min(wanted, 1 << 20), at)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    wanted -= len(chunk)
                    at += len(chunk)
                return b"".join(chunks)
            finally:
                os.close(fd)

    def listdir(self, path: str) -> list[str]:
        with _Walk(self.root, path) as walk:
            if walk.name is None:
                fd = os.dup(walk.dir_fd)
            else:
                try:
                    fd = os.open(walk.name, _DIR_FLAGS, dir_fd=walk.dir_fd)
                except OSError as exc:
                    raise type(exc)(exc.errno, exc.strerror, path) from None
            try:
                with os.scandir(fd) as entries:
                    return sorted(entry.name for entry, _ in zip(entries, range(MAX_LISTING)))
            finally:
                os.close(fd)
