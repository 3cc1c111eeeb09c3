"""`maillab forward`: a real mail client on this computer reaches a lab machine's port.

A listening socket on the host's loopback (never another address) relays each connection to the
machine's port through a socket made inside the lab: from the outside client's namespace to the
machine's lab address in a lab with a network (the server sees client.example, as the grader's
probes do), else inside the machine's own namespace to its 127.0.0.1. Self-paced use: one
learner, their own machine.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass
from typing import Callable

from sandbox.errors import SandboxError
from sandbox.network import _in_netns

from grader.errors import UsageError
from grader.i18n import _, say

Connect = Callable[[], socket.socket]
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Route:
    listen: tuple[str, int]
    describe: str  # where connections go, in words
    connect: Connect


def parse_listen(value: str | None, port: int) -> tuple[str, int]:
    """"127.0.0.1:1110" (or just "1110"); the default is 127.0.0.1:(10000 + PORT). Loopback only."""
    if not value:
        return "127.0.0.1", 10000 + port
    host, sep, local = value.rpartition(":") if ":" in value else ("127.0.0.1", ":", value)
    try:
        local_port = int(local)
        address = ipaddress.ip_address(host or "127.0.0.1")
    except ValueError:
        raise UsageError(_("--listen takes 127.0.0.1:PORT, not {value}.", value=repr(value))) from None
    if not address.is_loopback:
        raise UsageError(_("--listen must be a loopback address (127.0.0.1): {host} would open your lab "
                           "machine to other computers.", host=host))
    if not 0 <= local_port <= 65535:  # 0: any free port
        raise UsageError(_("{port} is not a port number.", port=local_port))
    return str(address), local_port


def route_for(session, machine_name: str | None, port: int, listen: str | None) -> Route:
    """Where connections to the local port go, for a learner's lab session."""
    if not 1 <= port <= 65535:
        raise UsageError(_("{port} is not a port number.", port=port))
    decl = session.lab.machine(machine_name)
    network = session.network()
    where = parse_listen(listen, port)
    if network is not None and any(n.kind == "client" for n in session.lab.network.nodes):
        client = next(n for n in session.lab.network.nodes if n.kind == "client")
        return Route(where, _("{machine} ({address}) port {port}, from {client}", machine=decl.name,
                              address=decl.address, port=port, client=client.hostname),
                     lambda: network.connect(client.name, decl.address, port, CONNECT_TIMEOUT))
    machine = session.machine(decl.name)

    def inside() -> socket.socket:
        pid = machine.pid
        if pid is None:
            raise SandboxError(_("The machine {machine} is not running.", machine=decl.name))
        sock = _in_netns(f"/proc/{pid}/ns/net", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(("127.0.0.1", port))
        except BaseException:
            sock.close()
            raise
        sock.settimeout(None)
        return sock
    return Route(where, _("{machine} port {port} (its 127.0.0.1)", machine=decl.name, port=port), inside)


def serve(route: Route, *, ready: Callable[[socket.socket], None] | None = None,
          stop: threading.Event | None = None, log: Callable[[str], None] = print) -> None:
    """Accept on the loopback address and relay each connection until `stop` is set (or Ctrl-C)."""
    stop = stop or threading.Event()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(route.listen)
    except OSError as exc:
        listener.close()
        raise UsageError(_("Cannot listen on {address}: {error}.", address=f"{route.listen[0]}:{route.listen[1]}",
                           error=exc.strerror or str(exc))) from None
    listener.listen(16)
    listener.settimeout(0.2)
    if ready is not None:
        ready(listener)
    try:
        while not stop.is_set():
            try:
                client, _address = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=_relay, args=(client, route, log), daemon=True).start()
    finally:
        listener.close()


def _relay(client: socket.socket, route: Route, log: Callable[[str], None]) -> None:
    try:
        server = route.connect()
    except (OSError, SandboxError) as exc:
        log(_("could not reach {where}: {error}", where=route.describe,
              error=getattr(exc, "strerror", None) or say(exc)))
        client.close()
        return
    server.settimeout(None)
    pump = threading.Thread(target=_copy, args=(server, client), daemon=True)
    pump.start()
    _copy(client, server)
    pump.join()
    client.close()
    server.close()


def _copy(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass
