"""Learners' JupyterLab servers, forked from one process that has already imported them.

A learner's server is ~100 MiB of Python objects made while importing JupyterHub's single-user
server and JupyterLab, the same in every learner, and ~3 CPU-seconds of imports on each login.
This process (root, started by the hub, see hub.ForkingSpawner) imports it all once, freezes it
for the garbage collector, and forks a child per login: the child becomes the learner (groups,
gid, uid, home, their environment) and runs jupyterhub-singleuser. Pages nobody writes stay
shared by the whole room, and a login costs a fork.

The fork comes first and the request is read by the child: what one learner's server is given
(their token, their environment) never enters this process, so no later child can inherit it.

    python -m workshop.forkserver SOCKET     (exits when its standard input closes: the hub died)

One request per connection, from root only (the socket is root's alone, in the hub's state folder):
a JSON line {"uid", "gid", "groups", "home", "env", "argv"}; the answer, once the child is the
learner, is {"pid": N} or {"error": "..."}.
"""
from __future__ import annotations

import atexit
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import traceback

# What every learner's server imports, once here. rfc3987_syntax is left out on purpose: importing
# it builds a parser (~2 CPU-seconds, ~15 MiB) that only checks the "iri" format of JSON schemas,
# which no event schema of Jupyter's uses; jsonschema then leaves that format unchecked.
BLOCKED = ("rfc3987_syntax",)
PRELOAD = (
    "jupyterhub.singleuser", "jupyterhub.singleuser.extension", "jupyterlab.labapp", "jupyterlab_server",
    "jupyter_server.serverapp", "jupyter_server_terminals", "terminado", "notebook_shim",
    "jupyter_server.services.contents.largefilemanager", "jupyter_server.services.kernels.kernelmanager",
    "jupyter_server.services.sessions.sessionmanager", "jupyter_server.gateway.managers",
    "jupyter_client.manager", "jupyter_client.provisioning", "nbformat", "jupyterlab_server.handlers",
    "classroom.notebook.machine_files", "classroom.notebook.checkpoints", "workshop.files_manager",
)


def block_heavy_imports() -> None:
    for name in BLOCKED:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # `import` now raises ImportError


def preload() -> None:
    block_heavy_imports()
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a missing optional part is imported (or not) by the child itself
            print(f"forkserver: not preloaded: {name}: {exc}", file=sys.stderr, flush=True)
    gc.collect()
    gc.freeze()  # the collector never touches (and so never copies) what was imported here


def listen(path: str) -> socket.socket:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    sock.listen(64)
    return sock


def serve(path: str) -> None:
    """Fork a child per connection until the hub goes (our standard input closes)."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    server = listen(path)
    selector = selectors.DefaultSelector()
    selector.register(server, selectors.EVENT_READ, "connection")
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "hub")
    try:
        while True:
            for key, _ in selector.select():
                if key.data == "hub":
                    if not os.read(sys.stdin.fileno(), 4096):
                        return
                    continue
                conn, _addr = server.accept()
                if os.fork() == 0:
                    selector.close()
                    server.close()
                    child(conn)  # never returns
                conn.close()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def child(conn: socket.socket) -> None:
    """Become the learner and run their server; the answer says which pid the hub watches."""
    code = 1
    try:
        request = json.loads(conn.makefile("rb").readline())
        argv = [str(arg) for arg in request["argv"]]
        if not argv:
            raise ValueError("no command")
        become(request)
        conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
        conn.close()
        try:
            code = run(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        atexit._run_exitfuncs()  # what the server registered, as at a normal exit
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:
        try:
            conn.sendall(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode() + b"\n")
        except OSError:
            traceback.print_exc()
    finally:  # never back into the fork server's loop (its clean-up would remove its socket)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def become(request: dict) -> None:
    """What the hub's spawner does for a local process: new session, the learner's ids (never
    root's groups), their home, only the environment it was given, no descriptor of ours."""
    os.setsid()
    for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as Python itself starts
    uid, gid = int(request["uid"]), int(request["gid"])
    if uid == 0 or gid == 0:
        raise PermissionError("a learner's server never runs as root")
    os.setgroups([int(g) for g in request["groups"]])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise PermissionError("could not become the learner")
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in request["env"].items()})
    try:
        os.chdir(request["home"])
    except OSError:
        os.chdir("/")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def run(argv: list[str]) -> int:
    """jupyterhub-singleuser, as its console script runs it, with nothing of ours left open."""
    keep = {0, 1, 2}
    for fd in os.listdir("/proc/self/fd"):
        if int(fd) not in keep:
            try:
                os.close(int(fd))
            except OSError:
                pass
    sys.argv = list(argv)
    from jupyterhub.singleuser import main

    result = main()
    return result if isinstance(result, int) else 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    preload()
    serve(args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
