"""What the kernel says about a machine's processes and sockets, read from the host's /proc.

`ps` and `ss` inside a machine are the learner's files and may lie; the kernel's own tables do not:
the machine's processes are those of its cgroup (and of its pid namespace), its sockets those of its
network namespace (/proc/PID/net of its init). Every read is bounded and never follows a link the
machine made (/proc's fd links are read with readlink, not opened).
"""
from __future__ import annotations

import ipaddress
import os
import socket
import struct
import sys
from dataclasses import dataclass

from . import cgroups

MAX_PROCESSES = 4096
ARGS_LIMIT = 4096
TABLE_LIMIT = 4 * 2**20
TCP_LISTEN, UDP_UNCONNECTED = "0A", "07"
# The kernel's socket table by netlink (sock_diag, what `ss` asks): a dump of listening sockets walks
# the listening table only, where /proc/PID/net/tcp walks every connection bucket of the host
# (hundreds of thousands), again for each page read: milliseconds of every check's CPU.
NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY = 4, 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
DIAG_TIMEOUT = 2.0
DIAG_LIMIT = 4 * 2**20  # bytes of answers read at most (as TABLE_LIMIT)
_NLMSG = struct.Struct("=IHHII")
_DIAG_MSG = struct.Struct("=BBBB2s2s16s16sIQIIIII")  # inet_diag_msg


@dataclass(frozen=True)
class KernelProcess:
    host_pid: int
    pid: int          # as the machine sees it
    uid: int          # host uid (the caller maps it to the machine's)
    comm: str
    args: str


@dataclass(frozen=True)
class KernelSocket:
    address: str
    port: int
    inode: int


def _read(path: str, limit: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks, size = [], 0
        while size < limit:
            chunk = os.read(fd, min(65536, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def processes(cgroup: str) -> list[KernelProcess]:
    """The processes of a machine's cgroup that live in its pid namespace (not the host's relays)."""
    found = []
    for host_pid in sorted(cgroups.pids(cgroup))[:MAX_PROCESSES]:
        try:
            status = _read(f"/proc/{host_pid}/status", 65536).decode("utf-8", "replace")
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            nspids = fields.get("NSpid", "").split()
            if len(nspids) < 2:
                continue  # not inside the machine's pid namespace
            uid = int(fields.get("Uid", "0").split()[0])
            comm = _read(f"/proc/{host_pid}/comm", 256).decode("utf-8", "replace").rstrip("\n")
            cmdline = _read(f"/proc/{host_pid}/cmdline", ARGS_LIMIT)
        except (OSError, ValueError):
            continue  # it ended meanwhile
        args = cmdline.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace") or f"[{comm}]"
        found.append(KernelProcess(host_pid, int(nspids[-1]), uid, comm, args))
    return found


def sockets(init_pid: int, proto: str) -> list[KernelSocket]:
    """Listening TCP sockets (proto "tcp") or unconnected UDP ones ("udp") of the machine's network:
    by netlink, or from /proc where the kernel has no sock_diag for `proto`."""
    from .errors import SandboxError

    try:
        return _diag_sockets(init_pid, proto)
    except (OSError, SandboxError):  # no sock_diag here (or the machine just ended): /proc says it
        return _proc_sockets(init_pid, proto)


def _diag_sockets(init_pid: int, proto: str) -> list[KernelSocket]:
    from .network import _in_netns  # a socket made in the machine's network asks about that network

    state = int(TCP_LISTEN if proto == "tcp" else UDP_UNCONNECTED, 16)
    protocol = socket.IPPROTO_TCP if proto == "tcp" else socket.IPPROTO_UDP
    sock = _in_netns(f"/proc/{int(init_pid)}/ns/net",
                     lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                           NETLINK_SOCK_DIAG))
    try:
        sock.settimeout(DIAG_TIMEOUT)
        found = []
        for seq, family in enumerate((socket.AF_INET, socket.AF_INET6), 1):
            request = struct.pack("=BBBBI", family, protocol, 0, 0, 1 << state) + bytes(48)
            sock.sendto(_NLMSG.pack(_NLMSG.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP,
                                    seq, 0) + request, (0, 0))
            found += _diag_answers(sock, seq, family == socket.AF_INET6, state)
        return found
    finally:
        sock.close()


def _diag_answers(sock: socket.socket, seq: int, v6: bool, state: int) -> list[KernelSocket]:
    found, size = [], 0
    while size < DIAG_LIMIT:
        data = sock.recv(65536)
        if not data:
            break
        size += len(data)
        at = 0
        while at + _NLMSG.size <= len(data):
            length, kind, _flags, number, _port = _NLMSG.unpack_from(data, at)
            if length < _NLMSG.size:
                raise OSError("a malformed sock_diag answer")
            body = data[at + _NLMSG.size: at + length]
            at += (length + 3) & ~3
            if number != seq:
                continue
            if kind == NLMSG_DONE:
                return found
            if kind == NLMSG_ERROR:
                error = -struct.unpack_from("=i", body)[0] if len(body) >= 4 else 0
                raise OSError(error, os.strerror(error) if error else "sock_diag refused the request")
            if kind != SOCK_DIAG_BY_FAMILY or len(body) < _DIAG_MSG.size:
                continue
            _family, st, _t, _r, sport, _dport, src, _dst, _if, _cookie, _exp, _rq, _wq, _uid, inode = \
                _DIAG_MSG.unpack_from(body)
            if st != state:
                continue
            address = ipaddress.IPv6Address(src) if v6 else ipaddress.IPv4Address(src[:4])
            shown = str(address.ipv4_mapped) if v6 and address.ipv4_mapped else str(address)
            found.append(KernelSocket(shown, int.from_bytes(sport, "big"), inode))
    raise OSError("the sock_diag answer did not end")


def _proc_sockets(init_pid: int, proto: str) -> list[KernelSocket]:
    wanted = TCP_LISTEN if proto == "tcp" else UDP_UNCONNECTED
    found = []
    for table, v6 in ((proto, False), (proto + "6", True)):
        try:
            text = _read(f"/proc/{init_pid}/net/{table}", TABLE_LIMIT).decode("ascii", "replace")
        except OSError:
            continue
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or fields[3] != wanted:
                continue
            try:
                address, port = _endpoint(fields[1], v6)
                found.append(KernelSocket(address, port, int(fields[9])))
            except ValueError:
                continue
    return found


def _endpoint(text: str, v6: bool) -> tuple[str, int]:
    hexaddr, hexport = text.split(":")
    raw = bytes.fromhex(hexaddr)
    # /proc prints each 32-bit word in the host's byte order.
    words = raw if sys.byteorder == "big" else b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.IPv6Address(words) if v6 else ipaddress.IPv4Address(words)
    shown = str(address.ipv4_mapped) if v6 and address.ipv4_mapped else str(address)
    return shown, int(hexport, 16)


def socket_owners(procs: list[KernelProcess]) -> dict[int, list[str]]:
    """socket inode -> the names (comm) of the machine's processes holding it."""
    owners: dict[int, list[str]] = {}
    for proc in procs:
        try:
            names = os.listdir(f"/proc/{proc.host_pid}/fd")
        except OSError:
            continue
        for name in names[:4096]:
            try:
                link = os.readlink(f"/proc/{proc.host_pid}/fd/{name}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inode = int(link[8:-1])
                if proc.comm not in owners.setdefault(inode, []):
                    owners[inode].append(proc.comm)
    return owners
