"""The check server: forks one child per step check (see isolated.py). Run by isolated.py only:

    python -m grader.checkserver FD

FD is a Unix socket to the caller. Each request is one JSON message with the fd the child writes
its result to; the answer is the child's pid on a line. The server ends when the caller does.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import socket
import sys

# Imported once here, so each child starts with the grader ready.
from sandbox import cgroups

from . import lab as labs
from .check import checks_of
from .i18n import use
from .isolated import CGROUP_PREFIX
from .runner import run_step
from .session import LabSession


def main(fd: int) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller's to handle; its socket closing ends us
    sock = socket.socket(fileno=fd)
    for known in labs.all_labs():  # every lab's checks imported once, here
        try:
            checks_of(known.checks_file)
        except Exception:  # noqa: BLE001 - a broken lab says so when it is checked
            pass
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
        name = f"{CGROUP_PREFIX}{os.getpid()}"
        cgroups.create(name, memory_bytes=int(request["memory"]), pids=512, cpu=0)
        cgroups.join(name)
        os.environ.clear()
        os.environ.update(request["env"])
        use(request["lang"])
        lab = labs.load(Path(request["lab_dir"]))
        session = LabSession(lab, request["learner"], record=False)
        checks = checks_of(lab.checks_file).get(request["step"], [])
        result = run_step(checks, session.host(), lab=lab.id, step=request["step"],
                          deadline=float(request["deadline"]))
        data = result.to_json().encode("utf-8")
        while data:
            data = data[os.write(out, data):]
        code = 0
    finally:
        os._exit(code)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
