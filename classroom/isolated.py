"""A step's checks run in a child process with a memory cap and a time cap.

What a check reads comes from a machine whose root may be hostile: each probe is bounded by itself
(bytes, lines, time), and the child is the bound around all of them. It runs in a cgroup of its own
whose memory is capped (MEMORY_CAP), with RLIMIT_DATA at what it already had plus MEMORY_CAP (the
bound that holds where there is no memory cgroup, and one that fails an allocation with a
MemoryError, told as a sentence by the runner, before the kernel's OOM killer acts); it is killed
when the step's time limit (plus GRACE) has passed. A child that dies, is killed or answers nonsense becomes one ERROR item with a sentence;
the caller (the notebook kernel, the CLI, the workshop's grader service) is never touched.

Children come from a check server (`python -m classroom.checkserver`): a single-threaded process of the
caller's, started once, with the grader already imported, that forks one child per step. A child
starts in milliseconds and never inherits the caller's threads or locks.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any

from sandbox import cgroups

from grader.i18n import _, language, translate
from grader.result import ItemResult, Status, StepResult
from grader.runner import MEMORY_CAP, TOO_MUCH_HINT  # what one step's checks may allocate (the child's own new memory)
RESULT_LIMIT = 4 * 2**20  # bytes of a result sent back
GRACE = 5.0  # seconds past the step's own time limit before the child is killed
CGROUP_PREFIX = "grader-check-"  # each child's cgroup: this and its pid


class _Server:
    """The check server of this process, started on first use, restarted if it died."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None

    def fork_child(self, request: dict, result_fd: int) -> int:
        """Have the server fork a child for `request`, writing its result to `result_fd`; its pid."""
        with self.lock:
            for attempt in (1, 2):
                if self.proc is None or self.proc.poll() is not None:
                    self._start()
                try:
                    socket.send_fds(self.sock, [json.dumps(request).encode()], [result_fd])
                    answer = self._read_line()
                    return int(json.loads(answer)["pid"])
                except (OSError, ValueError, KeyError, TypeError):
                    self._stop()
                    if attempt == 2:
                        raise
        raise AssertionError("not reached")

    def _read_line(self) -> bytes:
        data = b""
        while not data.endswith(b"\n"):
            chunk = self.sock.recv(4096)  # the socket's timeout bounds the wait
            if not chunk:
                raise OSError("the check server stopped")
            data += chunk
        return data

    def _start(self) -> None:
        cgroups.sweep(CGROUP_PREFIX)  # what children of an earlier caller left behind
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.proc = subprocess.Popen([sys.executable, "-m", "classroom.checkserver", str(theirs.fileno())],
                                     pass_fds=(theirs.fileno(),), cwd=root, stdin=subprocess.DEVNULL,
                                     # Not in the caller's process group: a Ctrl-C or a kernel's shutdown
                                     # is the caller's; the server ends when the caller's socket closes.
                                     start_new_session=True,
                                     env={**os.environ, "PYTHONPATH": root})
        theirs.close()
        ours.settimeout(30)
        self.sock = ours

    def _stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc, self.sock = None, None


_server = _Server()
# The last child's peak resident memory (VmHWM, KiB; it counts the pages it shares with the check
# server too), for the bench and for an instructor's look at a heavy step.
last_child_peak_kib: int | None = None


def run_isolated(lab: Any, learner: str, step_id: str, *, deadline: float,
                 fails_before: dict[str, int] | None = None, drawn: tuple[str, ...] | None = None) -> StepResult:
    """run_step of the lab's checks for `step_id`, in a capped child; its result, or an ERROR.
    `drawn`: the faults of the lab's pool the learner's machines were given (None: the learner's draw)."""
    started_at = datetime.now(timezone.utc).isoformat()
    reader, writer = os.pipe()
    request = {"lab_dir": str(lab.dir), "learner": learner, "step": step_id, "env": dict(os.environ),
               "lang": language(), "deadline": deadline, "grace": GRACE, "memory": MEMORY_CAP,
               "fails_before": dict(fails_before or {}), "drawn": None if drawn is None else list(drawn)}
    pid = None
    oom = False
    try:
        try:
            pid = _server.fork_child(request, writer)
        finally:
            os.close(writer)
        payload, finished = _read_result(reader, deadline + GRACE)
        if not finished:
            _kill(pid)
        elif payload is None and pid:
            oom = cgroups.counters(f"{CGROUP_PREFIX}{pid}")["oom_kills"] > 0
    finally:
        os.close(reader)
        if pid:  # its cgroup goes once the child has left it, off the learner's wait
            threading.Thread(target=cgroups.remove, args=(f"{CGROUP_PREFIX}{pid}",), daemon=True).start()
    if payload is not None:
        try:
            envelope = json.loads(payload.decode("utf-8"))
            global last_child_peak_kib
            last_child_peak_kib = envelope.get("peak_kib")
            return StepResult.from_dict(envelope["result"])
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            pass
    return _broken(lab.id, step_id, started_at, deadline, killed=not finished, oom=oom or payload is not None)


def _read_result(fd: int, timeout: float) -> tuple[bytes | None, bool]:
    """The child's whole answer (None if it sent none, b"" if too much), and whether it finished in time."""
    chunks, size = [], 0
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return None, False
        chunk = os.read(fd, 65536)
        if not chunk:
            return (b"".join(chunks) or None), True
        size += len(chunk)
        if size > RESULT_LIMIT:
            return b"", True  # not a result: told as too much
        chunks.append(chunk)


def _kill(pid: int | None) -> None:
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _broken(lab_id: str, step_id: str, started_at: str, deadline: float, *, killed: bool,
            oom: bool = True) -> StepResult:
    if killed:
        detail = _("The check did not finish within {seconds} s: what your machine sent the grader came too "
                   "slowly or never ended.", seconds=f"{deadline + GRACE:g}")
    elif oom:  # the kernel stopped it at its cap, or what it sent back was too big to be a result
        detail = _("The check stopped before it could answer: it used more than {mib} MiB, so what your machine "
                   "sent the grader was too much.", mib=MEMORY_CAP // 2**20)
    else:
        detail = _("The check stopped before it could answer (its process ended without a result).")
    hint = TOO_MUCH_HINT
    item = ItemResult("check_finished", str(translate(_("The check finished"))), Status.ERROR,
                      str(translate(detail)), str(translate(hint)))
    return StepResult(lab=lab_id, step=step_id, items=(item,), started_at=started_at, duration=0.0)
