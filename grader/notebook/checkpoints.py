"""Checkpoints kept out of the workspace.

JupyterLab saves a checkpoint of every file it opens in a `.ipynb_checkpoints` folder beside
it. For files under the `machine` link that folder would land inside the learner's machine
(/etc/postfix/.ipynb_checkpoints/...), where Postfix and the grader would see it. These
checkpoints live under a private folder instead, mirroring the workspace's layout.
"""
from __future__ import annotations

from jupyter_server.services.contents.filecheckpoints import AsyncFileCheckpoints
from traitlets import Unicode


class PrivateCheckpoints(AsyncFileCheckpoints):
    root_dir = Unicode(config=True, help="Private folder that holds the checkpoints.")

    def _root_dir_default(self) -> str:
        raise ValueError("PrivateCheckpoints.root_dir must be configured (a folder outside the workspace).")
