"""JupyterLab's file manager, made to read and write a lab machine's files safely, as the machine's root.

The workspace shows each lab machine in its own folder, `machines/LAB/NAME`: a link to that
machine's root file system. Under such a link:

- Everything is walked from the machine's root one component at a time without following a link
  out of it (grader.backends' walk): the learner is root inside and may plant links to the host's
  files, or swap a folder for a link while JupyterLab works.
- Saves, new files, new folders and copies are written with the file-system ids of the machine's
  root (sandbox Machine.as_root): inside, they are root's, as if made there. A save goes to a new
  file renamed over the old one, so a full disk leaves the old file whole.
- A file larger than MAX_OPEN is not opened in the editor (a log of gigabytes would stall the server).
- A machine that is stopped is not written to, and a file opened before its machine was reset is
  not saved over the new machine's file: either is refused with a sentence, in the learner's
  language, that JupyterLab shows in its error dialog (never a traceback).
"""
from __future__ import annotations

import base64
import errno
import itertools
import os
import shutil
import stat as stat_module
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web

from grader.backends import _Walk
from grader.i18n import N_, tr
from sandbox import paths
from sandbox.machine import Machine

from .workspace import MACHINES_FOLDER

MAX_OPEN = 4 * 1024 * 1024  # bytes: the most a file of a machine may have to open in the editor

# What the learner reads in JupyterLab's dialogs (English; said in the learner's language).
TEXT = {
    "stopped_save": N_("{machine} is not running, so {path} was not saved: nothing was written. Start the lab "
                       "again (run the first cell of its notebook), then save."),
    "stopped_open": N_("{machine} is not running, so its files cannot be opened. Start the lab again (run the "
                       "first cell of its notebook)."),
    "reset": N_("{machine} was reset after you opened {path}, so your edit was not saved (it would replace the "
                "file of the new machine). Copy what you need, then reopen the file (File \u203a Reload from "
                "Disk) and save again."),
    "link": N_("{path} goes through a symbolic link inside {machine}: the file browser does not follow links "
               "there. Open the file the link points to, by its own path."),
    "too_big": N_("{path} is {size} MiB: too big to open in the editor (at most {limit} MiB). Read it in the "
                  "terminal, for example with `less` or `tail`."),
    "not_file": N_("{path} is not a regular file (a folder, a FIFO, a socket or a device), so it cannot be "
                   "opened or saved here."),
    "between": N_("Files cannot be moved or copied between machines (or out of one) in the file browser: use "
                  "the terminal, or copy the text."),
    "notebook": N_("Keep notebooks in your workspace, not inside a lab machine."),
    "failed": N_("{path} could not be saved in {machine}: {error}."),
    "exists": N_("{path} already exists in {machine}."),
    "too_big_save": N_("{path} is {size} MiB: too big to save here (at most {limit} MiB). Copy it in the terminal "
                       "instead."),
    "machines_folder": N_("The machines folder only shows your labs' machines: make files and folders inside a "
                          "machine's folder (machines/LAB/NAME)."),
}

MAX_ENTRIES = 5000  # entries of one folder shown in the file browser (a listing stays one bounded answer)


@dataclass(frozen=True)
class InMachine:
    """A workspace path that lies inside a lab machine."""
    machine: Machine
    label: str  # how the learner knows it: "mail1 (lab backup-mx)"
    inner: str  # the path inside the machine, "/etc/postfix/main.cf"


def locate(root_dir: str, os_path: str) -> InMachine | None:
    """The machine whose folder holds `os_path`, or None for the learner's own files.

    The first link on the way down from the workspace decides: a link to a machine's root (as
    MailLab makes them) leads into that machine; any other path is the workspace's."""
    root = os.path.abspath(root_dir)
    rel = os.path.relpath(os.path.abspath(os_path), root)
    if rel == os.curdir or rel.startswith(os.pardir):
        return None
    parts = rel.split(os.sep)
    here = root
    for index, part in enumerate(parts):
        here = os.path.join(here, part)
        if not os.path.islink(here):
            if not os.path.isdir(here):
                return None
            continue
        try:
            inside = Path(os.path.realpath(here)).relative_to(paths.machines_dir().resolve())
        except (OSError, ValueError):
            return None
        if len(inside.parts) != 2 or inside.parts[1] != "merged":
            return None
        lab = parts[index - 1] if index >= 2 and parts[index - 2] == MACHINES_FOLDER else None
        label = f"{part} ({lab})" if lab else part
        return InMachine(Machine(inside.parts[0]), label, "/" + "/".join(parts[index + 1:]))
    return None


def refuse(status: int, key: str, **params: object) -> web.HTTPError:
    """An HTTP error whose message (shown by JupyterLab) is one sentence for the learner."""
    return web.HTTPError(status, tr(TEXT[key], **params))


def _oserror(where: InMachine, exc: OSError) -> web.HTTPError:
    if exc.errno in (errno.EISDIR, errno.EINVAL, errno.ENOTDIR):
        return refuse(400, "not_file", path=where.inner)
    if exc.errno == errno.ENOENT:
        return web.HTTPError(404, f"No such file or directory: {where.inner}")
    return refuse(400, "failed", path=where.inner, machine=where.label, error=exc.strerror or str(exc))


def read_bytes(where: InMachine, limit: int = MAX_OPEN) -> bytes:
    """The file's bytes, read without following a link out of the machine; refused past `limit`."""
    try:
        with _Walk(where.machine.root, where.inner) as walk:
            if walk.name is None:
                raise IsADirectoryError(errno.EISDIR, "a directory", where.inner)
            fd = os.open(walk.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=walk.dir_fd)
            try:
                info = os.fstat(fd)
                if not stat_module.S_ISREG(info.st_mode):
                    raise OSError(errno.EINVAL, "not a regular file", where.inner)
                if info.st_size > limit:
                    raise refuse(400, "too_big", path=where.inner, size=f"{info.st_size / 1048576:.1f}",
                                 limit=limit // 1048576)
                chunks, size = [], 0
                while size <= limit:
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                if size > limit:  # it grew while read
                    raise refuse(400, "too_big", path=where.inner, size=f"{size / 1048576:.1f}",
                                 limit=limit // 1048576)
                return b"".join(chunks)
            finally:
                os.close(fd)
    except OSError as exc:
        raise _oserror(where, exc) from None


def write_bytes(where: InMachine, data: bytes, *, append: bool = False) -> None:
    """Write the file as the machine's root: a new file renamed over the old one (its mode kept),
    or bytes appended (an upload's later chunks). No link is followed out of the machine."""

    def write() -> None:
        with _DirOf(where) as parent:
            dir_fd, name = parent.fd, parent.name
            try:
                old = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                old = None
            if old is not None and not stat_module.S_ISREG(old.st_mode):
                raise OSError(errno.EINVAL, "not a regular file", where.inner)
            if append:
                fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                             dir_fd=dir_fd)
                try:
                    _write_all(fd, data)
                finally:
                    os.close(fd)
                return
            tmp = f".{name[:200]}.maillab-{uuid.uuid4().hex[:8]}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                         dir_fd=dir_fd)
            try:
                try:
                    _write_all(fd, data)
                    if old is not None:
                        os.fchmod(fd, stat_module.S_IMODE(old.st_mode))
                        try:
                            os.fchown(fd, old.st_uid, old.st_gid)
                        except OSError:
                            pass  # a file of another owner becomes root's, as a save from inside would
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                try:
                    os.unlink(tmp, dir_fd=dir_fd)
                except OSError:
                    pass
                raise

    try:
        where.machine.as_root(write)
    except OSError as exc:
        raise _oserror(where, exc) from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _parent_and_name(where: InMachine) -> tuple[InMachine, str]:
    parent, _, name = where.inner.rstrip("/").rpartition("/")
    return InMachine(where.machine, where.label, parent or "/"), name


class _DirOf:
    """The directory fd of a machine path's parent, and its last component (never a link followed)."""

    def __init__(self, where: InMachine) -> None:
        parent, self.name = _parent_and_name(where)
        if self.name in ("", ".", ".."):
            raise OSError(errno.EINVAL, "not a file name", where.inner)
        self.walk = _Walk(where.machine.root, parent.inner)
        if self.walk.name is not None:
            try:
                fd = os.open(self.walk.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                             dir_fd=self.walk.dir_fd)
            except OSError:
                self.walk.close()
                raise
            self.walk.stack.append(fd)
        self.fd = self.walk.stack[-1]

    def __enter__(self) -> "_DirOf":
        return self

    def __exit__(self, *exc: object) -> None:
        self.walk.close()


def has_link(where: InMachine) -> bool:
    """True when a component of the path is a link inside the machine (lstat, never followed)."""
    here = str(where.machine.root)
    for part in [p for p in where.inner.split("/") if p]:
        here = os.path.join(here, part)
        try:
            if stat_module.S_ISLNK(os.lstat(here).st_mode):
                return True
        except OSError:
            return False
    return False


def parent_of(where: InMachine) -> InMachine:
    return _parent_and_name(where)[0]


def _entry(name: str, info: os.stat_result) -> dict:
    """What the file browser shows of one file: plain data (it crosses the grader service's socket)."""
    mode = info.st_mode
    kind = ("directory" if stat_module.S_ISDIR(mode) else "file" if stat_module.S_ISREG(mode)
            else "link" if stat_module.S_ISLNK(mode) else "other")
    return {"name": name, "kind": kind, "size": info.st_size, "mtime": info.st_mtime}


def stat_path(where: InMachine) -> dict:
    """The path's entry (a link is described, never followed)."""
    try:
        if where.inner.strip("/") == "":
            with _Walk(where.machine.root, "/") as walk:
                return _entry("", os.fstat(walk.dir_fd))
        with _DirOf(where) as parent:
            return _entry(parent.name, os.stat(parent.name, dir_fd=parent.fd, follow_symlinks=False))
    except OSError as exc:
        raise _oserror(where, exc) from None


def list_dir(where: InMachine, limit: int = MAX_ENTRIES) -> list[dict]:
    """A folder's entries (at most `limit`, in name order), each stat'ed without following a link."""
    try:
        with _Walk(where.machine.root, where.inner) as walk:
            if walk.name is None:
                fd = os.dup(walk.dir_fd)
            else:
                fd = os.open(walk.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                             dir_fd=walk.dir_fd)
            try:
                # At most `limit` names are read at all (a folder of millions stays one bounded answer).
                with os.scandir(fd) as found:
                    names = sorted(entry.name for entry in itertools.islice(found, limit))
                entries = []
                for name in names:
                    try:
                        entries.append(_entry(name, os.stat(name, dir_fd=fd, follow_symlinks=False)))
                    except OSError:
                        continue  # gone meanwhile
                return entries
            finally:
                os.close(fd)
    except OSError as exc:
        raise _oserror(where, exc) from None


def make_dir(where: InMachine) -> None:
    """A new folder, made as the machine's root (an existing folder is fine)."""

    def make() -> None:
        with _DirOf(where) as parent:
            try:
                os.mkdir(parent.name, 0o755, dir_fd=parent.fd)
            except FileExistsError:
                info = os.stat(parent.name, dir_fd=parent.fd, follow_symlinks=False)
                if not stat_module.S_ISDIR(info.st_mode):
                    raise OSError(errno.ENOTDIR, "not a directory", where.inner) from None

    try:
        where.machine.as_root(make)
    except OSError as exc:
        raise _oserror(where, exc) from None


def delete_path(where: InMachine) -> None:
    """Delete a file, link or folder (a folder with all it holds; no link is followed)."""
    try:
        with _DirOf(where) as parent:
            info = os.stat(parent.name, dir_fd=parent.fd, follow_symlinks=False)
            if stat_module.S_ISDIR(info.st_mode):
                shutil.rmtree(parent.name, dir_fd=parent.fd)  # never follows a link
            else:
                os.unlink(parent.name, dir_fd=parent.fd)
    except OSError as exc:
        raise _oserror(where, exc) from None


def rename_path(old: InMachine, new: InMachine) -> None:
    """Rename within one machine; an existing target is refused, never replaced."""
    try:
        with _DirOf(old) as source, _DirOf(new) as target:
            try:
                os.stat(target.name, dir_fd=target.fd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            else:
                raise refuse(409, "exists", path=new.inner, machine=new.label)
            os.rename(source.name, target.name, src_dir_fd=source.fd, dst_dir_fd=target.fd)
    except OSError as exc:
        raise _oserror(old, exc) from None


class MachineFilesManager(AsyncLargeFileManager):
    """The workspace's contents manager (ServerApp.contents_manager_class)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # os path -> the machine (its `made` mark) the file was opened from: a save after a reset is refused.
        self._opened: dict[str, str | None] = {}

    def _where(self, os_path: str) -> InMachine | None:
        return locate(self.root_dir, os_path)

    # -- what checkpoints (checkpoints.py) ask of a machine's file ---------------------------
    async def is_machine_file(self, path: str) -> bool:
        return self._where(self._get_os_path(path.strip("/"))) is not None

    async def machine_file_bytes(self, path: str) -> bytes | None:
        """A machine's file's bytes, read as the editor reads them; None for the learner's own files."""
        where = self._where(self._get_os_path(path.strip("/")))
        return None if where is None else read_bytes(where)

    async def write_machine_file(self, path: str, data: bytes) -> None:
        where = self._where(self._get_os_path(path.strip("/")))
        if not where.machine.running():
            raise refuse(409, "stopped_save", machine=where.label, path=where.inner)
        write_bytes(where, data)

    def _has_link(self, where: InMachine) -> bool:
        return has_link(where)

    def _require_running(self, where: InMachine, key: str) -> None:
        """Refuse a machine that is stopped, or a path that goes through a link inside it (the walk
        below would never follow one out of the machine; this says so before anything is done)."""
        if not where.machine.running():
            raise refuse(409, key, machine=where.label, path=where.inner)
        if self._has_link(InMachine(where.machine, where.label, _parent_and_name(where)[0].inner)):
            raise refuse(400, "link", machine=where.label, path=where.inner)

    # -- reading --------------------------------------------------------------------------
    async def get(self, path, content=True, type=None, format=None, require_hash=False):
        os_path = self._get_os_path(path.strip("/"))
        where = self._where(os_path)
        if where is None:
            return await super().get(path, content=content, type=type, format=format, require_hash=require_hash)
        if not where.machine.running():
            if content and type in (None, "directory") and format is None:
                return self._empty_dir(path)  # the folder of a stopped machine shows nothing, and no error
            # Without content: JupyterLab asking, before a save, whether the file changed on disk.
            raise refuse(409, "stopped_open" if content else "stopped_save", machine=where.label, path=where.inner)
        if self._has_link(where):
            parent = InMachine(where.machine, where.label, _parent_and_name(where)[0].inner)
            if not content and not self._has_link(parent):
                return self._link_entry(path, os_path)  # listed in its folder (/sbin -> usr/sbin), never followed
            raise refuse(400, "link", machine=where.label, path=where.inner)
        if type == "notebook" or (type is None and path.endswith(".ipynb") and not os.path.isdir(os_path)):
            type = "file"  # a notebook inside a machine is a file to read, never one to run
        model = await super().get(path, content=content, type=type, format=format, require_hash=require_hash)
        if content and model.get("type") == "file":
            self._opened[os_path] = where.machine.made
        return model

    def _link_entry(self, path: str, os_path: str) -> dict:
        """A link inside a machine as its folder lists it: a file that opening refuses with a sentence."""
        try:
            when = datetime.fromtimestamp(os.lstat(os_path).st_mtime, timezone.utc)
        except OSError:
            when = datetime.now(timezone.utc)
        path = path.strip("/")
        return {"name": path.rsplit("/", 1)[-1], "path": path, "type": "file", "format": None,
                "mimetype": None, "content": None, "created": when, "last_modified": when, "writable": False,
                "size": None, "hash": None, "hash_algorithm": None}

    def _empty_dir(self, path: str) -> dict:
        now = datetime.now(timezone.utc)
        path = path.strip("/")
        return {"name": path.rsplit("/", 1)[-1], "path": path, "type": "directory", "format": "json",
                "mimetype": None, "content": [], "created": now, "last_modified": now, "writable": False,
                "size": None, "hash": None, "hash_algorithm": None}

    async def _read_file(self, os_path, format, raw=False):
        where = self._where(os_path)
        if where is None:
            return await super()._read_file(os_path, format, raw=raw)
        data = read_bytes(where)
        if format == "byte":
            return (data, "byte", data) if raw else (data, "byte")
        if format in (None, "text"):
            try:
                text = data.decode("utf8")
                return (text, "text", data) if raw else (text, "text")
            except UnicodeError:
                if format == "text":
                    raise web.HTTPError(400, f"{where.inner} is not UTF-8 encoded", reason="bad format") from None
        encoded = base64.encodebytes(data).decode("ascii")
        return (encoded, "base64", data) if raw else (encoded, "base64")

    # -- writing --------------------------------------------------------------------------
    async def save(self, model, path=""):
        os_path = self._get_os_path(path.strip("/"))
        where = self._where(os_path)
        if where is not None:
            self._require_running(where, "stopped_save")
            if model.get("type") == "notebook":
                raise refuse(400, "notebook")
            opened = self._opened.get(os_path, where.machine.made)
            if model.get("type") == "file" and opened != where.machine.made:
                raise refuse(409, "reset", machine=where.label, path=where.inner)
        saved = await super().save(model, path)
        if where is not None and model.get("type") == "file":
            self._opened[os_path] = where.machine.made
        return saved

    def _decode(self, os_path: str, content: str, format: str) -> bytes:
        if format not in {"text", "base64"}:
            raise web.HTTPError(400, "Must specify format of file contents as 'text' or 'base64'")
        try:
            return content.encode("utf8") if format == "text" else base64.b64decode(content.encode("ascii"))
        except Exception as exc:
            raise web.HTTPError(400, f"Encoding error saving {os_path}: {exc}") from exc

    async def _save_file(self, os_path, content, format):
        where = self._where(os_path)
        if where is None:
            return await super()._save_file(os_path, content, format)
        write_bytes(where, self._decode(os_path, content, format))

    async def _save_large_file(self, os_path, content, format):
        where = self._where(os_path)
        if where is None:
            return await super()._save_large_file(os_path, content, format)
        self._require_running(where, "stopped_save")
        write_bytes(where, self._decode(os_path, content, format), append=True)

    async def _save_directory(self, os_path, model, path=""):
        where = self._where(os_path)
        if where is None:
            return await super()._save_directory(os_path, model, path)
        make_dir(where)

    async def _copy(self, src, dest):
        source, target = self._where(src), self._where(dest)
        if source is None and target is None:
            return await super()._copy(src, dest)
        if source is None or target is None or source.machine.name != target.machine.name:
            raise refuse(400, "between")
        self._require_running(target, "stopped_save")
        write_bytes(target, read_bytes(source))

    async def _copy_dir(self, from_path, to_path_original, to_name, to_path):
        if self._where(self._get_os_path(from_path)) or self._where(self._get_os_path(to_path)):
            raise refuse(400, "between")
        return await super()._copy_dir(from_path, to_path_original, to_name, to_path)

    async def delete_file(self, path):
        os_path = self._get_os_path(path.strip("/"))
        where = self._where(os_path)
        if where is None:
            return await super().delete_file(path)
        self._require_running(where, "stopped_save")
        delete_path(where)
        self._opened.pop(os_path, None)

    async def rename_file(self, old_path, new_path):
        old_os, new_os = self._get_os_path(old_path.strip("/")), self._get_os_path(new_path.strip("/"))
        old, new = self._where(old_os), self._where(new_os)
        if old is None and new is None:
            return await super().rename_file(old_path, new_path)
        if old is None or new is None or old.machine.name != new.machine.name:
            raise refuse(400, "between")
        if old.inner == new.inner:
            return None
        self._require_running(new, "stopped_save")
        rename_path(old, new)
        self._opened.pop(old_os, None)
