"""For unit tests of checks and probes: a Host over files in memory and scripted command answers,
and a clock that only moves when told to (no real machine, no root, no waiting)."""
from __future__ import annotations

import errno
import os
import stat as stat_module
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from sandbox.errors import CommandTimeout
from sandbox.result import ExecResult

from .host import READ_LIMIT, Host


class FakeClock:
    """A monotonic clock for `Host(clock=..., sleep=...)`: `sleep` moves it and runs `on_sleep` hooks."""

    def __init__(self) -> None:
        self.now = 0.0
        self.on_sleep: list[Callable[[], None]] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        for hook in self.on_sleep:
            hook()


def fake_host(backend: "FakeBackend | None" = None, clock: FakeClock | None = None, **options) -> Host:
    """A Host over `backend` (a new FakeBackend by default) whose waits move `clock`, not time."""
    clock = clock or FakeClock()
    return Host(backend or FakeBackend(), clock=clock, sleep=clock.sleep, **options)


Answer = Callable[[list[str], "bytes | None"], "ExecResult | tuple[int, str, str]"]


@dataclass
class FakeFile:
    content: bytes
    mtime: float
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


class FakeBackend:
    """Files in memory and scripted command answers, for unit tests of checks and probes.

    A command nobody scripted answers like a missing one (exit status 127).
    """

    def __init__(self, files: dict[str, bytes | str] | None = None) -> None:
        self.files: dict[str, FakeFile] = {}
        self.dirs: set[str] = {"/"}
        self.calls: list[tuple[list[str], bytes | None, float]] = []
        self._answers: list[tuple[tuple[str, ...], Answer | None, ExecResult, bool]] = []
        for path, content in (files or {}).items():
            self.add_file(path, content)

    # -- scripting ----------------------------------------------------------------------------

    def add_file(self, path: str, content: bytes | str = b"", *, mtime: float | None = None,
                 mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
        data = content.encode() if isinstance(content, str) else content
        self.files[path] = FakeFile(data, time.time() if mtime is None else mtime, mode, uid, gid)
        parent = path.rsplit("/", 1)[0] or "/"
        while parent not in self.dirs:
            self.dirs.add(parent)
            parent = parent.rsplit("/", 1)[0] or "/"

    def add_dir(self, path: str) -> None:
        self.add_file(path.rstrip("/") + "/.fake-dir-marker")
        del self.files[path.rstrip("/") + "/.fake-dir-marker"]

    def append(self, path: str, content: bytes | str) -> None:
        data = content.encode() if isinstance(content, str) else content
        if path in self.files:
            self.files[path].content += data
            self.files[path].mtime = time.time()
        else:
            self.add_file(path, data)

    def remove(self, path: str) -> None:
        self.files.pop(path, None)

    def on(self, *argv_prefix: str, stdout: str | bytes = "", stderr: str | bytes = "",
           returncode: int = 0, handler: Answer | None = None, timeout: bool = False) -> None:
        """Answer commands starting with argv_prefix. The latest matching rule wins."""
        out = stdout.encode() if isinstance(stdout, str) else stdout
        err = stderr.encode() if isinstance(stderr, str) else stderr
        canned = ExecResult(tuple(argv_prefix), returncode, out, err, 0.0)
        self._answers.append((tuple(argv_prefix), handler, canned, timeout))

    def commands(self) -> list[list[str]]:
        return [argv for argv, _, _ in self.calls]

    # -- Backend ------------------------------------------------------------------------------

    def run(self, argv: Sequence[str], *, input: bytes | None = None,
            timeout: float) -> ExecResult:
        argv = list(argv)
        self.calls.append((argv, input, timeout))
        for prefix, handler, canned, times_out in reversed(self._answers):
            if tuple(argv[: len(prefix)]) != prefix:
                continue
            if times_out:
                raise CommandTimeout(argv, timeout)
            if handler is not None:
                answer = handler(argv, input)
                if isinstance(answer, ExecResult):
                    return answer
                code, out, err = answer
                return ExecResult(tuple(argv), code, out.encode(), err.encode(), 0.0)
            return ExecResult(tuple(argv), canned.returncode, canned.stdout, canned.stderr, 0.0)
        return ExecResult(tuple(argv), 127, b"", f"{argv[0]}: command not found\n".encode(), 0.0)

    def read_bytes(self, path: str, limit: int = READ_LIMIT, *, offset: int = 0) -> bytes:
        if path in self.dirs:
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        if path not in self.files:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        return self.files[path].content[offset: offset + limit]

    def stat(self, path: str) -> os.stat_result | None:
        path = path.rstrip("/") or "/"
        if path in self.dirs:
            return os.stat_result((stat_module.S_IFDIR | 0o755, 0, 0, 2, 0, 0, 4096, 0, 0, 0))
        fake = self.files.get(path)
        if fake is None:
            return None
        return os.stat_result((stat_module.S_IFREG | fake.mode, 0, 0, 1, fake.uid, fake.gid,
                               len(fake.content), fake.mtime, fake.mtime, fake.mtime))

    def listdir(self, path: str) -> list[str]:
        path = path.rstrip("/") or "/"
        if path in self.files:
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        if path not in self.dirs:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        prefix = path if path.endswith("/") else path + "/"
        names = {p[len(prefix):].split("/", 1)[0] for p in (*self.files, *self.dirs)
                 if p.startswith(prefix) and p != path}
        return sorted(names)
