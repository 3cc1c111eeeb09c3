"""A workshop learner's contents manager: JupyterLab's file browser, with `machines/LAB/NAME` answered
by the grader service (workshop/files.py) and everything else the learner's own workspace.

It runs in the learner's server, as their own uid: the machines are root's, so every listing, open,
save, new file, rename and delete under `machines` is one `files` request. Refusals are the
service's sentences, in the learner's language.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import mimetypes
from datetime import datetime, timezone
from typing import Any

from jupyter_server.services.contents.manager import AsyncContentsManager
from tornado import web

from classroom.notebook.machine_files import MachineFilesManager, refuse
from classroom.notebook.workspace import MACHINES_FOLDER

from .files import request


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
