"""A learner's workspace in a workshop, made by the learner's own uid before their server starts:
their copies of the notebooks (never overwritten), the MailLab kernel, and a server config whose
Terminal enters their machine through the grader service.

    python -m workshop.learner_home WORKSPACE
"""
from __future__ import annotations

import sys
from pathlib import Path

from grader import lab as labs
from grader.notebook.server import prepare
from grader.notebook.workspace import install_notebooks


def notebook_name(lab: labs.Lab) -> str:
    return f"{lab.number:02d}-{lab.id}.ipynb"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    workspace = Path(args[0])
    workspace.mkdir(mode=0o700, parents=True, exist_ok=True)
    install_notebooks(workspace, [(lab.notebook, notebook_name(lab)) for lab in labs.all_labs()])
    prepare(workspace, state_dir=workspace / ".maillab",
            shell_command=[sys.executable, "-m", "workshop.enter", "--shell"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
