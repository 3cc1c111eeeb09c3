"""The learner's workspace (the JupyterLab root): their notebooks and a window onto the machine."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from grader.errors import MailLabError
from grader.i18n import _

KERNEL_NAME = "maillab"
KERNEL_DISPLAY_NAME = "MailLab (Python 3)"
KERNELSPEC_METADATA = {"name": KERNEL_NAME, "display_name": KERNEL_DISPLAY_NAME, "language": "python"}
MACHINE_LINK = "machine"


def link_machine_root(workspace: Path, machine: Any, name: str = MACHINE_LINK) -> Path:
    """Make `workspace/machine` a symlink to the machine's root file system, so files such as
    /etc/postfix/main.cf open from JupyterLab's file browser. Re-pointed when the machine changes;
    anything else of that name (the learner's own folder) is left alone."""
    link = Path(workspace) / name
    target = str(machine.root)
    if link.is_symlink():
        if os.readlink(link) == target:
            return link
    elif link.exists():
        raise MailLabError(f"{link} is not a link to your machine, so your machine's files are not "
                           f"shown there: rename it and run the lab's first cell again.")
    # Build the new link beside the old one and rename it over: never a moment without one.
    tmp = Path(tempfile.mkdtemp(prefix=".maillab-link-", dir=workspace))
    try:
        (tmp / name).symlink_to(target, target_is_directory=True)
        os.replace(tmp / name, link)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return link


MACHINES_FOLDER = "machines"


def machine_folder(lab_id: str, name: str) -> str:
    """Where a lab machine's files are in the workspace: `machines/LAB/NAME`."""
    return f"{MACHINES_FOLDER}/{lab_id}/{name}"


def link_lab_machines(workspace: Path, lab_id: str, machines: Iterable[tuple[str, Any]]) -> list[Path]:
    """A folder per lab machine, `machines/LAB/NAME`, a link to that machine's root file system.

    Each link only ever shows its own machine: starting another lab adds its own folders and
    changes none of these, so a file open in the editor never changes machine under the learner."""
    made = []
    for name, machine in machines:
        folder = Path(workspace) / MACHINES_FOLDER / lab_id
        for part in (Path(workspace) / MACHINES_FOLDER, folder):
            if part.is_symlink() or (part.exists() and not part.is_dir()):
                raise MailLabError(_("{path} is not a folder, so your machines' files are not shown there: "
                                     "rename it and run the lab's first cell again.", path=str(part)))
        folder.mkdir(parents=True, exist_ok=True)
        made.append(link_machine_root(folder, machine, name=name))
    return made


def install_notebooks(workspace: Path, notebooks: Iterable[tuple[Path, str]]) -> list[Path]:
    """Copy each (source, name) into the workspace unless the learner already has that file:
    a learner's copy holds their work and is never overwritten. Notebooks are set to the MailLab
    kernel. Returns the files copied now."""
    copied = []
    for source, name in notebooks:
        dest = Path(workspace) / name
        if dest.exists() or dest.is_symlink():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.suffix == ".ipynb":
            # Plain JSON, as nbformat writes it: importing nbformat alone takes most of a second.
            notebook = json.loads(Path(source).read_text(encoding="utf-8"))
            notebook.setdefault("metadata", {})["kernelspec"] = dict(KERNELSPEC_METADATA)
            data = (json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        else:
            data = Path(source).read_bytes()
        if _create_exclusively(dest, data):
            copied.append(dest)
    return copied


def _create_exclusively(dest: Path, data: bytes) -> bool:
    """Write dest in one step, only if it does not exist (False if it appeared meanwhile)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.link(tmp, dest)  # fails if dest exists, unlike rename
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
