"""Checkpoints kept out of the workspace.

JupyterLab saves a checkpoint of every file it opens in a `.ipynb_checkpoints` folder beside
it. For files under the `machine` link that folder would land inside the learner's machine
(/etc/postfix/.ipynb_checkpoints/...), where Postfix and the grader would see it. These
checkpoints live under a private folder instead, mirroring the workspace's layout.
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
