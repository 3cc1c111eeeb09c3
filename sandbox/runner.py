"""Run a host command with a time bound and an output bound (a flood must not eat the host's memory)."""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from typing import Callable, Mapping, Sequence

from .errors import CommandTimeout
from .result import ExecResult

OUTPUT_LIMIT = 8 * 1024 * 1024
# After the command has ended, how long its output is still read: a daemon it started (Dovecot's
# master keeps its stderr) may hold the pipes open for good, and must not hold us too.
DAEMON_GRACE = 0.3


def run_bounded(
    argv: Sequence[str],
    *,
    input: bytes | None = None,
    timeout: float = 10.0,
    limit: int = OUTPUT_LIMIT,
    preexec_fn: Callable[[], None] | None = None,
    shown_argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> ExecResult:
    """Run argv; keep at most `limit` bytes of each stream; kill its process group at `timeout`."""
    shown = tuple(shown_argv or argv)
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # one process group: a timeout ends the command and its children
        preexec_fn=preexec_fn,
        env=None if env is None else dict(env),
    )
    names = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
    kept: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    sizes = {"stdout": 0, "stderr": 0}
    sel = selectors.DefaultSelector()
    for fd in names:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    # Readable once the command has ended: its end wakes us at once (Popen.wait with a timeout polls,
    # sleeping up to 50 ms a round, which a busy host's checks all wait out).
    exited = _pidfd(proc.pid)
    if exited is not None:
        sel.register(exited, selectors.EVENT_READ)
    if input is not None:
        try:
            proc.stdin.write(input)
        except BrokenPipeError:
            pass
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
    deadline = started + timeout
    ended_at = None
    code = None
    try:
        while sel.get_map():  # output still open, or (with a pidfd) the command still running
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                _kill_group(proc)
                raise CommandTimeout(shown, timeout, b"".join(kept["stdout"]))
            if ended_at is None and proc.poll() is not None:
                ended_at = now
            if ended_at is not None and now - ended_at > DAEMON_GRACE:
                break
            for key, _ in sel.select(timeout=min(remaining, 0.1)):
                if key.fd == exited:
                    sel.unregister(exited)
                    code = proc.wait()  # it has ended: no wait
                    ended_at = ended_at or time.monotonic()
                    continue
                data = os.read(key.fd, 65536)
                name = names[key.fd]
                if not data:
                    sel.unregister(key.fd)
                    continue
                if sizes[name] < limit:
                    kept[name].append(data[: limit - sizes[name]])
                sizes[name] += len(data)
        if code is None:
            try:
                code = proc.wait(timeout=max(deadline - time.monotonic(), 0.05))
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                raise CommandTimeout(shown, timeout) from None
    finally:
        sel.close()
        if exited is not None:
            os.close(exited)
        proc.stdout.close()
        proc.stderr.close()
    return ExecResult(
        argv=shown,
        returncode=code,
        stdout=b"".join(kept["stdout"]),
        stderr=b"".join(kept["stderr"]),
        duration=time.monotonic() - started,
    )


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when `pid` ends (None where the kernel has no pidfd)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
