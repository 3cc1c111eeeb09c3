"""A learner's workspace in a workshop, made by the learner's own uid before their server starts:
their copies of the notebooks (never overwritten), the MailLab kernel, and a server config whose
Terminal enters their machine through the grader service and whose file browser shows their machines'
files (`machines/LAB/NAME`) through it too (workshop/files.py).

    python -m workshop.learner_home WORKSPACE
"""
from __future__ import annotations

import sys
from pathlib import Path

from classroom.notebook.home import every_edition
from classroom.notebook.server import prepare
from classroom.notebook.workspace import install_notebooks


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    workspace = Path(args[0])
    workspace.mkdir(mode=0o700, parents=True, exist_ok=True)
    install_notebooks(workspace, every_edition())  # English and Chinese side by side
    prepare(workspace, state_dir=workspace / ".maillab",
            shell_command=[sys.executable, "-m", "workshop.enter", "--shell"],
            contents_manager="workshop.files_manager.WorkshopFilesManager")
    return 0


if __name__ == "__main__":
    sys.exit(main())
