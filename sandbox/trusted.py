"""Trusted tools: Postfix's and Dovecot's own programs, from the image's packages, never a machine's.

Root inside a machine may replace `postconf` or `doveconf` with a script that prints what the grader
wants to see. So the grader runs the genuine programs instead: unpacked once from the `.deb` files
of the image's offline repository (the same packages the learner installs) into a folder beside the
image, and run by enter.py's `tool` mode as nobody, in a read-only root of the image and these
packages, on copies of the machine's files (read by the grader's no-follow walk), inside the
machine's network and uts namespaces so that defaults taken from the host name and the interfaces
are the machine's own.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Mapping, Sequence

from . import enter, image, paths, procs
from .errors import MachineNotRunning, SandboxError, _
from .machine import ENTER, HOST_PYTHON, Machine
from .result import ExecResult
from .runner import run_bounded

# enter.py imported (from its cached bytecode) rather than run as a script, which Python compiles anew
# at every start: 5 ms of each tool run's CPU. Its folder goes last on the path, after the standard
# library's, so no other file of that folder can stand in for a module enter.py imports.
TOOL_START = "import sys; sys.path.append(sys.argv.pop(1)); import enter; enter.os._exit(enter.main(sys.argv[1:]) or 0)"
# The packages unpacked (libraries first, the programs last, so theirs win where names meet).
PACKAGES = ("lib", "postfix", "dovecot-core")


def tree() -> Path:
    """The unpacked packages (made on first use, once per image)."""
    root = image.ensure_image(quiet=True)
    target = root.parent / "trusted"
    if (target / ".complete").exists():
        return target
    with open(root.parent / ".trusted.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".complete").exists():
            return target
        repo = root / "srv" / "offline-apt"
        debs = sorted(repo.glob("*.deb"))
        chosen = [d for prefix in PACKAGES for d in debs if d.name.startswith(prefix + "_" if prefix != "lib" else "lib")]
        if not any(d.name.startswith("postfix_") for d in chosen):
            raise SandboxError(_("The lab image has no Postfix package to check with: rebuild it with "
                                 "`maillab image build`."))
        work = Path(tempfile.mkdtemp(prefix=".trusted-", dir=root.parent))
        try:
            for deb in chosen:
                done = subprocess.run(["dpkg-deb", "-x", str(deb), str(work)], capture_output=True, text=True)
                if done.returncode != 0:
                    raise SandboxError(_("Could not unpack {package}: {error}", package=deb.name,
                                         error=done.stderr.strip()))
            _merge_usr(work)
            (work / ".complete").write_text("")
            shutil.rmtree(target, ignore_errors=True)
            os.rename(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def _merge_usr(work: Path) -> None:
    """Debian's image has /lib, /bin and /sbin as links into /usr; a package's own /lib folder would hide
    the link (and the dynamic loader behind it) in the layered root: its files move under /usr."""
    for name in ("bin", "sbin", "lib", "lib64"):
        top = work / name
        if top.is_dir() and not top.is_symlink():
            shutil.copytree(top, work / "usr" / name, symlinks=True, dirs_exist_ok=True)
            shutil.rmtree(top)


def run(machine: Machine, argv: Sequence[str], files: Mapping[str, bytes], *, opaque: Sequence[str] = (),
        timeout: float = 10.0) -> ExecResult:
    """Run a trusted program (argv[0]: its absolute path in the trusted tree) in the machine's network
    and host name, with `files` (absolute path -> bytes, copies of the machine's) laid over the trusted
    tree; a folder in `opaque` shows only the files given in it (none of the tree's own)."""
    pid = machine.pid
    if pid is None:
        raise MachineNotRunning(_("Machine {name} is not running: start it with `maillab lab start`.",
                                  name=machine.name))
    trusted = tree()
    scratch = paths.home() / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tool-", dir=scratch))  # 0700: the copies are the learner's only
    try:
        (work / "root").mkdir()
        top = work / "files"
        top.mkdir(mode=0o755)
        old = time.time() - 60
        for folder in opaque:
            target = _inside(top, folder)
            target.mkdir(mode=0o755, parents=True, exist_ok=True)
            os.setxattr(target, "trusted.overlay.opaque", b"y")  # the tree's own files do not show through
        for path, data in files.items():
            target = _inside(top, path)
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            target.write_bytes(data)
            os.chmod(target, 0o644)
            # Postfix waits while a table or main.cf looks freshly written (it may be mid-edit): a copy is not.
            os.utime(target, (old, old))
        if threading.active_count() == 1:  # a check's child: no other thread can hold a lock the fork copies
            try:
                return run_bounded(list(argv), timeout=timeout, env=enter.TOOL_ENV,
                                   preexec_fn=_fence(pid, procs.start_time(pid), trusted, work))
            except (subprocess.SubprocessError, OSError, enter.Refused):
                pass  # it could not fence itself in, or run the program: enter.py says why
        host_argv = [HOST_PYTHON, "-I", "-S", "-c", TOOL_START, str(ENTER.parent), "tool", str(pid),
                     str(procs.start_time(pid)), str(trusted), str(image.ensure_image(quiet=True)), str(work), "--",
                     *argv]
        return run_bounded(host_argv, timeout=timeout, shown_argv=list(argv))
    finally:
        shutil.rmtree(work, ignore_errors=True)


_seccomp: list = []  # the filter, prepared once per process (enter.seccomp_filter), loaded by each tool


def prepare() -> None:
    """The seccomp filter made now (the check server does it once, for all its children)."""
    if not _seccomp:
        _seccomp.append(enter.seccomp_filter())


def _fence(pid: int, started: int, trusted: Path, work: Path):
    """What the tool's process does between fork and exec, as enter.py's tool mode does it (the same
    function): without starting a Python of its own, 15 ms of every trusted tool's CPU. Only in a
    process with a single thread, where the fork copies no lock another thread holds."""
    prepare()
    ctx, root = _seccomp[0], str(image.ensure_image(quiet=True))

    def fence() -> None:
        enter.fence_tool(pid, started, str(trusted), root, str(work), ctx)
    return fence


def _inside(top: Path, path: str) -> Path:
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ValueError(f"not a plain absolute path: {path!r}")
    return top.joinpath(*parts)
