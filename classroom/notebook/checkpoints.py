"""Checkpoints kept out of the workspace.

JupyterLab saves a checkpoint of every file it opens in a `.ipynb_checkpoints` folder beside
it. For files in a machine's folder that folder would land inside the learner's machine
(/etc/postfix/.ipynb_checkpoints/...), where Postfix and the grader would see it. These
checkpoints live under a private folder instead, mirroring the workspace's layout. A machine's file
is copied to and from its checkpoint the way the contents manager reads and writes it (no link
followed out of the machine, as the machine's root).
"""
from __future__ import annotations

import os

from jupyter_core.utils import ensure_dir_exists
from jupyter_server.services.contents.filecheckpoints import AsyncFileCheckpoints
from traitlets import Unicode


class PrivateCheckpoints(AsyncFileCheckpoints):
    root_dir = Unicode(config=True, help="Private folder that holds the checkpoints.")

    def _root_dir_default(self) -> str:
        raise ValueError("PrivateCheckpoints.root_dir must be configured (a folder outside the workspace).")

    def checkpoint_path(self, checkpoint_id: str, path: str) -> str:
        # The parent class falls back to a shared folder in /tmp when the checkpoint's folder does
        # not exist yet, which here is always the case at first: create it instead.
        parent, name = ("/" + path.strip("/")).rsplit("/", 1)
        basename, ext = os.path.splitext(name)
        folder = self._get_os_path(path=parent.strip("/"))  # refuses paths outside root_dir
        with self.perm_to_403():
            ensure_dir_exists(folder)
        return os.path.join(folder, f"{basename}-{checkpoint_id}{ext}")

    # A machine's file is copied to and from its checkpoint as the contents manager reads and writes
    # it; the contents manager is passed in by JupyterLab's own calls, so nothing depends on how this
    # object was made.
    async def create_checkpoint(self, contents_mgr, path):
        data = await _machine_call(contents_mgr, "machine_file_bytes", path)
        if data is None:
            return await super().create_checkpoint(contents_mgr, path)
        dest = self.checkpoint_path("checkpoint", path)
        with self.perm_to_403():
            with open(dest, "wb") as out:
                out.write(data)
        return await self.checkpoint_model("checkpoint", dest)

    async def restore_checkpoint(self, contents_mgr, checkpoint_id, path):
        if not await _machine_call(contents_mgr, "is_machine_file", path):
            return await super().restore_checkpoint(contents_mgr, checkpoint_id, path)
        with open(self.checkpoint_path(checkpoint_id, path), "rb") as checkpoint:
            await contents_mgr.write_machine_file(path, checkpoint.read())
        return None


async def _machine_call(contents_mgr, method: str, path: str):
    """Ask MailLab's contents manager about a machine's file (None from any other manager)."""
    call = getattr(contents_mgr, method, None)
    return None if call is None else await call(path)
