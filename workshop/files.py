"""A workshop learner's machine files in JupyterLab's file browser, served by the grader service.

A workshop learner's server runs as their own unprivileged uid: it cannot see the root-owned
machines. Their workspace still shows `machines/LAB/NAME`, as a self-paced learner's does, but those
folders are virtual: every listing, open, save, new file, rename and delete under them is one
`files` request to the grader service, which knows who is asking (SO_PEERCRED). The service finds
the machine only from the caller's own name, a lab id the course knows and a machine name that lab
declares; then it does what the self-paced contents manager does (classroom.notebook.machine_files):
walks without following a link out of the machine, writes as the machine's root, opens at most
MAX_OPEN bytes, and refuses with the same sentences. The learner's side, the contents manager, is
workshop/files_manager.py.

File bytes cross the socket in CHUNK-sized messages after the request or the answer, so no message
nears protocol.MAX_MESSAGE.
"""
from __future__ import annotations

import base64
import posixpath
import socket
from typing import Any

from . import protocol

CHUNK = 512 * 1024  # bytes of a file in one message (base64 makes it 683 KiB, under MAX_MESSAGE)
ACTIONS = ("labs", "get", "write", "mkdir", "delete", "rename")


# -- the grader service's side (root) --------------------------------------------------------------
def _inner(value: Any) -> str:
    """A path inside a machine, "/etc/postfix/main.cf": absolute, normalized, no `..` left."""
    if not isinstance(value, str) or not value.startswith("/") or "\0" in value or len(value) > 4096:
        raise protocol.ProtocolError("path must be an absolute path inside the machine")
    clean = posixpath.normpath(value)
    if clean.startswith("//"):
        clean = "/" + clean.lstrip("/")
    if ".." in clean.split("/"):
        raise protocol.ProtocolError("path must not go up with ..")
    return clean


def where_for(learner: str, lab: Any, machine: Any, path: Any):
    """The caller's machine (an InMachine) for a lab id and a machine name of that lab: the name is
    never used as given, only to pick one of the lab's declared machines."""
    from classroom.notebook.machine_files import InMachine
    from classroom.session import LabSession
    from grader import course

    if not isinstance(lab, str) or not isinstance(machine, str):
        raise protocol.ProtocolError("lab and machine must be strings")
    session = LabSession(course.find(lab), learner, record=False)  # an unknown lab: refused with its sentence
    decl = session.lab.machine(machine)  # an unknown machine: refused with its sentence
    return InMachine(session.machine(decl.name), f"{decl.name} ({lab})", _inner(path))


def labs_of(learner: str) -> list[list]:
    """[[lab id, [machine names]]] for each lab of the learner that has machines (running or not)."""
    from grader import course
    from sandbox.machine import all_machines

    prefix = f"{learner}--"
    made = {m.name for m in all_machines() if m.name.startswith(prefix)}
    labs = []
    for lab in course.all_labs():
        names = [d.name for d in lab.machines if f"{prefix}{lab.id}--{d.name}" in made]
        if names:
            labs.append([lab.id, names])
    return labs


def _get(where, request: dict) -> tuple[dict, bytes | None]:
    """What JupyterLab's GET needs, decided as machine_files.MachineFilesManager.get decides it."""
    from classroom.notebook.machine_files import has_link, list_dir, parent_of, read_bytes, refuse, stat_path

    content, kind, fmt = bool(request.get("content")), request.get("type"), request.get("format")
    if not where.machine.running():
        if content and kind in (None, "directory") and fmt is None:
            return {"kind": "directory", "entries": [], "stopped": True}, None  # shown empty, no error
        raise refuse(409, "stopped_open" if content else "stopped_save", machine=where.label, path=where.inner)
    if has_link(where):
        if not content and not has_link(parent_of(where)):
            return stat_path(where), None  # listed in its folder, never followed
        raise refuse(400, "link", machine=where.label, path=where.inner)
    entry = {**stat_path(where), "made": where.machine.made}
    if not content:
        return entry, None
    if entry["kind"] == "directory":
        return {**entry, "entries": list_dir(where)}, None
    if entry["kind"] != "file":
        raise refuse(400, "not_file", path=where.inner)
    return entry, read_bytes(where)


def _require_writable(where) -> None:
    from classroom.notebook.machine_files import has_link, parent_of, refuse

    if not where.machine.running():
        raise refuse(409, "stopped_save", machine=where.label, path=where.inner)
    if has_link(parent_of(where)):
        raise refuse(400, "link", machine=where.label, path=where.inner)


def _write(where, request: dict, data: bytes) -> dict:
    from classroom.notebook.machine_files import refuse, stat_path, write_bytes

    _require_writable(where)
    made = request.get("made")
    if isinstance(made, str) and made != where.machine.made:  # opened before a reset
        raise refuse(409, "reset", machine=where.label, path=where.inner)
    write_bytes(where, data, append=bool(request.get("append")))
    return {**stat_path(where), "made": where.machine.made}


def _receive_data(reader: protocol.Reader, request: dict, where) -> bytes:
    """The bytes sent after a write request, at most MAX_OPEN of them."""
    from classroom.notebook.machine_files import MAX_OPEN, refuse

    count = request.get("chunks", 0)
    if not isinstance(count, int) or count < 0:
        raise protocol.ProtocolError("chunks must be a count")
    if count > MAX_OPEN // CHUNK + 1:
        raise refuse(400, "too_big_save", path=where.inner, size=f"{count * CHUNK / 1048576:.1f}",
                     limit=MAX_OPEN // 1048576)
    parts, size = [], 0
    for _ in range(count):
        message = reader.receive()
        if message is None or not isinstance(message.get("data"), str):
            raise protocol.ProtocolError("a chunk of the file is missing")
        parts.append(base64.b64decode(message["data"]))
        size += len(parts[-1])
        if size > MAX_OPEN:
            raise refuse(400, "too_big_save", path=where.inner, size=f"{size / 1048576:.1f}",
                         limit=MAX_OPEN // 1048576)
    return b"".join(parts)


def serve(learner: str, request: dict, reader: protocol.Reader, sock: socket.socket) -> None:
    """Answer one `files` request of `learner` (the socket's peer): the answer, then any file bytes.
    A refusal of machine_files (an HTTP error with one sentence) is sent with its status."""
    from tornado import web

    from classroom.notebook.machine_files import delete_path, make_dir, refuse, rename_path

    action = request.get("action")
    if action not in ACTIONS:
        raise protocol.ProtocolError(f"no files action {action!r}")
    data = None
    try:
        if action == "labs":
            result: Any = labs_of(learner)
        else:
            where = where_for(learner, request.get("lab"), request.get("machine"), request.get("path"))
            if action == "get":
                result, data = _get(where, request)
            elif action == "write":
                result = _write(where, request, _receive_data(reader, request, where))
            elif action == "mkdir":
                _require_writable(where)
                make_dir(where)
                result = None
            elif action == "delete":
                _require_writable(where)
                if where.inner == "/":
                    raise refuse(400, "not_file", path=where.inner)
                delete_path(where)
                result = None
            else:  # rename, within the one machine
                target = where_for(learner, request.get("lab"), request.get("machine"), request.get("to"))
                _require_writable(target)
                _require_writable(where)
                rename_path(where, target)
                result = None
    except web.HTTPError as exc:
        protocol.send(sock, {"ok": False, "kind": "usage", "status": exc.status_code, "error": exc.log_message})
        return
    chunks = [] if data is None else [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    protocol.send(sock, {"ok": True, "result": result, "chunks": len(chunks)})
    for chunk in chunks:
        protocol.send(sock, {"data": base64.b64encode(chunk).decode("ascii")})


# -- the learner's server's side (their own uid) ---------------------------------------------------
def request(action: str, *, data: bytes | None = None, **fields: Any) -> tuple[Any, bytes | None]:
    """One `files` request; (answer, file bytes or None). A refusal is raised as the HTTP error
    JupyterLab shows: the service's sentence, in the learner's language."""
    from tornado import web

    from grader.errors import MailLabError
    from grader.i18n import language, say

    from .client import connect

    from classroom.notebook.machine_files import MAX_OPEN, refuse

    if data is not None and len(data) > MAX_OPEN:  # said here: the service would stop reading midway
        raise refuse(400, "too_big_save", path=fields.get("path"), size=f"{len(data) / 1048576:.1f}",
                     limit=MAX_OPEN // 1048576)
    chunks = [] if data is None else [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    try:
        with connect() as sock:
            protocol.send(sock, {"op": "files", "action": action, "lang": language(), "chunks": len(chunks),
                                 **fields})
            for chunk in chunks:
                protocol.send(sock, {"data": base64.b64encode(chunk).decode("ascii")})
            reader = protocol.Reader(sock)
            reply = reader.receive()
            if reply is None:
                raise ConnectionError("no answer")
            if not reply.get("ok"):
                raise web.HTTPError(int(reply.get("status") or 400), str(reply.get("error")))
            parts = []
            for _ in range(int(reply.get("chunks") or 0)):
                message = reader.receive()
                if message is None:
                    raise ConnectionError("the answer was cut short")
                parts.append(base64.b64decode(message["data"]))
            return reply.get("result"), (b"".join(parts) if parts else None)
    except MailLabError as exc:
        raise web.HTTPError(503, say(exc)) from None
    except (OSError, protocol.ProtocolError) as exc:
        from .client import unreachable

        raise web.HTTPError(503, say(MailLabError(unreachable(exc)))) from None
