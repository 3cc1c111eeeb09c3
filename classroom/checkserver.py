"""The check server: forks one child per step check (see isolated.py). Run by isolated.py only:

    python -m classroom.checkserver FD

FD is a Unix socket to the caller. Each request is one JSON message with the fd the child writes
its result to; the answer is the child's pid on a line. The server ends when the caller does.
"""
from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
from pathlib import Path
import resource
import signal
import socket
import sys

# Imported once here, so each child starts with the grader ready.
from sandbox import cgroups

from grader import course
from grader.check import checks_of
from grader.i18n import use
from .isolated import CGROUP_PREFIX
from grader.runner import run_step
from .session import LabSession

# What a check imports only when it runs (a machine's processes, sockets and trusted tools, the lab
# network, SMTP conversations): imported here once, or every child would import (and maybe compile)
# them again, tens of milliseconds of each check's CPU.
PRELOADED = ("grader.backends", "grader.liveconf", "grader.reach", "grader.smtp_probe", "grader.world",
             "grader.outside", "grader.maillog", "grader.mailbox", "grader.queueread", "grader.mailflow",
             "grader.dovecot", "grader.retrieval", "grader.inbound", "grader.tables", "grader.machinefiles",
             "sandbox.procview", "sandbox.trusted", "sandbox.network", "sandbox.mailserver")


def main(fd: int) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller's to handle; its socket closing ends us
    sock = socket.socket(fileno=fd)
    for known in course.all_labs():  # every lab's checks imported once, here
        try:
            checks_of(known.checks_file)
        except Exception:  # noqa: BLE001 - a broken lab says so when it is checked
            pass
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a check that needs it says so when it runs
            pass
    try:
        from sandbox import trusted

        trusted.prepare()  # the trusted tools' seccomp filter, built once for every child
    except Exception:  # noqa: BLE001 - no libseccomp: each tool run says so
        pass
    # What is imported now is never freed: the collector leaves it alone, so a child does not touch
    # (and copy) every page of it at its first collection.
    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 1)
        except OSError:
            return 0
        if not message:
            return 0  # the caller is gone
        if len(fds) != 1:
            for extra in fds:
                os.close(extra)
            continue
        pid = os.fork()
        if pid == 0:
            sock.close()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _child(json.loads(message), fds[0])
        os.close(fds[0])
        sock.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def _child(request: dict, out: int) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the check waits for its own commands
        # Its own end, should the caller (who kills it at the step's limit) be gone.
        signal.alarm(int(float(request["deadline"]) + float(request.get("grace", 5))) + 1)
        _cap_data(int(request["memory"]))
        name = f"{CGROUP_PREFIX}{os.getpid()}"
        try:
            cgroups.create(name, memory_bytes=int(request["memory"]), pids=512, cpu=0)
            cgroups.join(name)
        except OSError:
            pass  # a host without a memory cgroup: RLIMIT_DATA is the bound
        os.environ.clear()
        os.environ.update(request["env"])
        use(request["lang"])
        lab = course.load(Path(request["lab_dir"]))
        drawn = request.get("drawn")
        session = LabSession(lab, request["learner"], record=False, drawn=None if drawn is None else tuple(drawn))
        checks = checks_of(lab.checks_file).get(request["step"], [])
        with _maybe_recording(lab.id, request["step"], session.drawn) as tape:
            result = run_step(checks, session.host(), lab=lab.id, step=request["step"],
                              deadline=float(request["deadline"]), fails_before=request.get("fails_before") or {})
            if tape is not None:
                tape.finish(result)
        data = json.dumps({"result": result.to_dict(), "peak_kib": _status_kib("VmHWM")},
                          ensure_ascii=False).encode("utf-8")
        while data:
            data = data[os.write(out, data):]
        code = 0
    finally:
        os._exit(code)


@contextlib.contextmanager
def _maybe_recording(lab_id: str, step: str, drawn: tuple[str, ...] = ()):
    """With MAILLAB_RECORD=DIR (the course tests, to make tapes for the unit tests): the step's
    answers recorded in DIR/LAB/STEP/, named after the test that asked (grader.tape)."""
    folder = os.environ.get("MAILLAB_RECORD")
    if not folder:
        yield None
        return
    from grader import tape

    stem = tape.stem(os.environ.get("PYTEST_CURRENT_TEST", "check"))
    where = Path(folder) / lab_id / step
    number = len(list(where.glob(f"{stem}--*.json.gz"))) + 1 if where.is_dir() else 1
    with tape.recording(where / f"{stem}--{number}.json.gz", lab_id=lab_id, step=step, drawn=drawn) as rec:
        yield rec


def _status_kib(field: str) -> int | None:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def _cap_data(extra: int) -> None:
    """RLIMIT_DATA: what the child holds now (inherited from this server) and `extra` more. The
    commands a check runs inherit it too; none of them needs anything near it."""
    now = (_status_kib("VmData") or 0) * 1024
    limit = now + extra
    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
