"""A workshop learner's machine files in JupyterLab's file browser, served by the grader service.

A workshop learner's server runs as their own unprivileged uid: it cannot see the root-owned
machines. Their workspace still shows `machines/LAB/NAME`, as a self-paced learner's does, but those
folders are virtual: every listing, open, save, new file, rename and delete under them is one
`files` request to the grader service, which knows who is asking (SO_PEERCRED). The service finds
the machine only from the caller's own name, a lab id the course knows and a machine name that lab
declares; then it does what the self-paced contents manager does (classroom.notebook.machine_files):
walks without following a link out of the machine, writes as the machine's root, opens at most
MAX_OPEN bytes, and refuses with the same sentences.

File bytes cross the socket in CHUNK-sized messages after the request or the answer, so no message
nears protocol.MAX_MESSAGE.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import mimetypes
import posixpath
import socket
from datetime import datetime, timezone
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


def _when(seconds: float | None) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc) if seconds else datetime.now(timezone.utc)


def _model(path: str, kind: str, *, entry: dict | None = None, content: Any = None,
           fmt: str | None = None, mimetype: str | None = None, writable: bool = True) -> dict:
    when = _when((entry or {}).get("mtime"))
    return {"name": path.rsplit("/", 1)[-1], "path": path, "type": kind, "format": fmt, "mimetype": mimetype,
            "content": content, "created": when, "last_modified": when, "writable": writable,
            "size": (entry or {}).get("size") if kind == "file" else None, "hash": None, "hash_algorithm": None}


def _hash(data: bytes) -> dict:
    return {"hash": hashlib.sha256(data).hexdigest(), "hash_algorithm": "sha256"}


def _entry_model(path: str, entry: dict) -> dict:
    """A folder's entry as JupyterLab lists it: a link is a file that opening refuses."""
    kind = "directory" if entry["kind"] == "directory" else "file"
    return _model(path, kind, entry=entry, writable=entry["kind"] in ("directory", "file"))


def _manager_class():
    from jupyter_server.services.contents.manager import AsyncContentsManager
    from tornado import web

    from classroom.notebook.machine_files import MachineFilesManager, refuse
    from classroom.notebook.workspace import MACHINES_FOLDER

    class WorkshopFilesManager(MachineFilesManager):
        """The workshop learner's contents manager: `machines/...` is answered by the grader service."""

        async def _ask(self, action: str, **fields: Any) -> tuple[Any, bytes | None]:
            return await asyncio.get_running_loop().run_in_executor(None, lambda: request(action, **fields))

        @staticmethod
        def _split(path: str) -> list[str] | None:
            """[], [LAB] or [LAB, NAME, inner] for a path under `machines`; None for the learner's own."""
            parts = [p for p in path.strip("/").split("/") if p]
            if not parts or parts[0] != MACHINES_FOLDER:
                return None
            if len(parts) <= 2:
                return parts[1:]
            return [parts[1], parts[2], "/" + "/".join(parts[3:])]

        def _fields(self, split: list[str]) -> dict:
            return {"lab": split[0], "machine": split[1], "path": split[2]}

        async def _labs(self) -> dict[str, list[str]]:
            labs, _ = await self._ask("labs")
            return {lab: list(names) for lab, names in labs}

        async def get(self, path, content=True, type=None, format=None, require_hash=False):
            split = self._split(path)
            path = path.strip("/")
            if split is None:
                model = await super().get(path, content=content, type=type, format=format,
                                          require_hash=require_hash)
                if path == "" and content and not any(m["name"] == MACHINES_FOLDER for m in model["content"]):
                    model["content"].append(_model(MACHINES_FOLDER, "directory", writable=False))
                return model
            if len(split) < 3:
                return await self._virtual_folder(path, split, content, type)
            answer, data = await self._ask("get", content=content, type=type, format=format, **self._fields(split))
            if answer["kind"] == "directory":
                if type not in (None, "directory"):
                    raise web.HTTPError(400, f"{path} is a directory, not a {type}", reason="bad type")
                entries = [_entry_model(f"{path}/{e['name']}", e) for e in answer.get("entries", [])
                           if self.allow_hidden or not e["name"].startswith(".")]
                return _model(path, "directory", entry=answer, content=entries if content else None,
                              fmt="json" if content else None, writable=not answer.get("stopped"))
            if type == "directory":
                raise web.HTTPError(400, f"{path} is not a directory", reason="bad type")
            if answer["kind"] == "link":
                return _entry_model(path, answer)
            if not content:
                model = _model(path, "file", entry=answer)
                if require_hash:  # JupyterLab compares it with what it opened: the bytes are needed
                    _again, data = await self._ask("get", content=True, type="file", format="byte",
                                                   **self._fields(split))
                    model.update(_hash(data or b""))
                return model
            self._opened[path] = answer.get("made")
            text, fmt = self._encode(data or b"", format, split[2])
            mimetype = mimetypes.guess_type(path)[0] or ("text/plain" if fmt == "text" else "application/octet-stream")
            model = _model(path, "file", entry=answer, content=text, fmt=fmt, mimetype=mimetype)
            if require_hash:
                model.update(_hash(data or b""))
            return model

        @staticmethod
        def _encode(data: bytes, format: str | None, inner: str) -> tuple[str, str]:
            if format in (None, "text"):
                try:
                    return data.decode("utf8"), "text"
                except UnicodeError:
                    if format == "text":
                        raise web.HTTPError(400, f"{inner} is not UTF-8 encoded", reason="bad format") from None
            return base64.encodebytes(data).decode("ascii"), "base64"

        async def _virtual_folder(self, path: str, split: list[str], content: bool, type: str | None) -> dict:
            """`machines` (a folder per lab) and `machines/LAB` (a folder per machine)."""
            if type not in (None, "directory"):
                raise web.HTTPError(400, f"{path} is a directory", reason="bad type")
            labs = await self._labs()
            if split and split[0] not in labs:
                raise web.HTTPError(404, f"No such file or directory: {path}")
            names = labs[split[0]] if split else sorted(labs)
            entries = [_model(f"{path}/{name}", "directory", writable=False) for name in names]
            return _model(path, "directory", content=entries if content else None, fmt="json" if content else None,
                          writable=False)

        async def save(self, model, path=""):
            split = self._split(path)
            if split is None:
                return await super().save(model, path)
            path = path.strip("/")
            if len(split) < 3:
                raise refuse(400, "machines_folder")
            kind = model.get("type")
            if kind == "notebook":
                raise refuse(400, "notebook")
            if kind == "directory":
                await self._ask("mkdir", **self._fields(split))
                return await self.get(path, content=False)
            if kind != "file" or "content" not in model:
                raise web.HTTPError(400, "No file content provided")
            data = self._decode(path, model["content"], model.get("format"))
            chunk = model.get("chunk")
            append = chunk is not None and chunk not in (0, 1)
            made = None if append else self._opened.get(path)
            answer, _ = await self._ask("write", data=data, append=append, made=made, **self._fields(split))
            self._opened[path] = answer.get("made")
            return _model(path, "file", entry=answer)

        async def delete_file(self, path):
            split = self._split(path)
            if split is None:
                return await super().delete_file(path)
            if len(split) < 3:
                raise refuse(400, "machines_folder")
            await self._ask("delete", **self._fields(split))
            self._opened.pop(path.strip("/"), None)

        async def rename_file(self, old_path, new_path):
            old, new = self._split(old_path), self._split(new_path)
            if old is None and new is None:
                return await super().rename_file(old_path, new_path)
            if old is None or new is None or len(old) < 3 or len(new) < 3 or old[:2] != new[:2]:
                raise refuse(400, "between")
            if old[2] != new[2]:
                await self._ask("rename", to=new[2], **self._fields(old))
            self._opened.pop(old_path.strip("/"), None)

        async def copy(self, from_path, to_path=None):
            source, target = self._split(from_path), self._split(to_path or from_path.rsplit("/", 1)[0])
            if source is None and target is None:
                return await super().copy(from_path, to_path)
            if source is None or target is None or len(source) < 3 or len(target) < 2 or source[:2] != target[:2]:
                raise refuse(400, "between")
            return await AsyncContentsManager.copy(self, from_path, to_path)  # get, then save: both served

        async def dir_exists(self, path=""):
            return await self._kind(path) == "directory"

        async def file_exists(self, path=""):
            return await self._kind(path) == "file"

        async def _kind(self, path: str) -> str | None:
            split = self._split(path)
            if split is None:
                if await super().dir_exists(path):
                    return "directory"
                return "file" if await super().file_exists(path) else None
            try:
                return (await self.get(path, content=False))["type"]
            except web.HTTPError:
                return None

        async def is_hidden(self, path):
            return False if self._split(path) is not None else await super().is_hidden(path)

        # -- checkpoints (classroom.notebook.checkpoints) ------------------------------------
        async def is_machine_file(self, path: str) -> bool:
            split = self._split(path)
            return split is not None and len(split) == 3

        async def machine_file_bytes(self, path: str) -> bytes | None:
            if not await self.is_machine_file(path):
                return None
            _answer, data = await self._ask("get", content=True, type="file", format="byte",
                                            **self._fields(self._split(path)))
            return data or b""

        async def write_machine_file(self, path: str, data: bytes) -> None:
            await self._ask("write", data=data, **self._fields(self._split(path)))

    return WorkshopFilesManager


def __getattr__(name: str):
    # jupyter_server imports `workshop.files.WorkshopFilesManager`; the grader service never needs it.
    if name == "WorkshopFilesManager":
        cls = _manager_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)
