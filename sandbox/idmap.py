"""Learner root as an unprivileged host uid: a user namespace per machine and idmapped mounts.

A machine with a user namespace sees its ids 0..65535 as host ids BASE..BASE+65535, BASE being a
block of 65536 host ids of its own (see uidrange.py). Files stay stored with the ids the machine
sees (root's files owned by 0 on disk), so image and starting-state layers are shared by every
machine whatever its block: each machine mounts them through idmapped bind mounts
(mount_setattr with MOUNT_ATTR_IDMAP, Linux >= 5.12; overlayfs on idmapped layers needs >= 5.19).
util-linux 2.38 has no `mount --map-users`, so the three mount-API calls are made here.
"""
from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path
from typing import Callable, TypeVar

from .errors import SandboxError, _

IDS = 65536  # ids per machine: 0..65535 inside

_libc = ctypes.CDLL(None, use_errno=True)
_SYS_OPEN_TREE, _SYS_MOVE_MOUNT, _SYS_MOUNT_SETATTR = 428, 429, 442  # the same on every architecture
_SYS_SETFSUID, _SYS_SETFSGID = {"x86_64": (122, 123), "aarch64": (151, 152)}.get(os.uname().machine, (None, None))
CLONE_NEWUSER = 0x10000000
OPEN_TREE_CLONE = 1
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_IDMAP = 0x100000
PR_SET_SECUREBITS = 28
SECBIT_NO_SETUID_FIXUP = 0x4

T = TypeVar("T")


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise SandboxError(_("{what} failed: {error}. Machines with a user namespace need Linux >= 5.19 with "
                             "idmapped mounts (or turn them off with MAILLAB_USERNS=0).",
                             what=what, error=os.strerror(err)))
    return result


def user_namespace(base: int, count: int = IDS) -> int:
    """An fd of a new user namespace mapping ids 0..count-1 to host ids base..base+count-1.

    A forked child makes the namespace; the parent writes its maps (it may: it is root outside)
    and keeps the namespace alive by holding its fd; the child then exits."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only raw calls until _exit
        try:
            os.close(ready_r)
            os.close(go_w)
            ok = _libc.unshare(CLONE_NEWUSER) == 0
            os.write(ready_w, b"1" if ok else b"0")
            os.read(go_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(go_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise SandboxError(_("Could not make a user namespace: this host does not allow them (turn them off "
                                 "with MAILLAB_USERNS=0)."))
        for kind in ("uid_map", "gid_map"):
            Path(f"/proc/{pid}/{kind}").write_text(f"0 {base} {count}\n")
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(go_w)
        os.waitpid(pid, 0)


def bind_idmapped(source: Path | str, target: Path | str, userns_fd: int, *, readonly: bool = False) -> None:
    """Bind-mount source on target, its ids seen through the user namespace's map (0 -> base)."""
    tree = _check(_libc.syscall(_SYS_OPEN_TREE, -100, os.fsencode(str(source)),
                                OPEN_TREE_CLONE | os.O_CLOEXEC), f"Cloning the mount of {source}")
    try:
        attr = _MountAttr(attr_set=MOUNT_ATTR_IDMAP | MOUNT_ATTR_NODEV | (MOUNT_ATTR_RDONLY if readonly else 0),
                          userns_fd=userns_fd)
        _check(_libc.syscall(_SYS_MOUNT_SETATTR, tree, b"", AT_EMPTY_PATH, ctypes.byref(attr),
                             ctypes.sizeof(attr)), f"Idmapping the mount of {source}")
        _check(_libc.syscall(_SYS_MOVE_MOUNT, tree, b"", -100, os.fsencode(str(target)),
                             MOVE_MOUNT_F_EMPTY_PATH), f"Attaching the idmapped mount of {source}")
    finally:
        os.close(tree)


def as_inside_id(base: int, host: int) -> int:
    """The id a machine sees for a host id; 65534 (nobody) for ids outside its block."""
    return host - base if base <= host < base + IDS else 65534


def acting_as(uid: int, gid: int, fn: Callable[[], T]) -> T:
    """Run fn in a thread whose file-system ids are uid and gid: what it creates in a machine's
    root is owned there by the machine's root, as if made inside (the host's root ids have no
    place in a machine with a user namespace, and creating files as them fails). The thread keeps
    root's capabilities, so it can still reach and write anything."""
    if _SYS_SETFSUID is None:
        raise SandboxError(_("Writing into a machine is not supported on {machine}.", machine=os.uname().machine))
    box: dict = {}

    def run():
        try:
            # Credentials are per thread: this one keeps root's capabilities (no "setuid fix-up")
            # and takes the machine root's file-system ids; the caller's threads are untouched.
            _check(_libc.prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0), "Keeping capabilities")
            _libc.syscall(_SYS_SETFSGID, gid)
            _libc.syscall(_SYS_SETFSUID, uid)
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=run, name="maillab-as-machine")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
