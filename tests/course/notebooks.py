"""Running a lab's notebook headless, top to bottom, against the test learner's real machines."""
from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from grader import course
from classroom.notebook import server


def outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        data = out.get("data", {})
        parts.append(data.get("text/html", "") if isinstance(data.get("text/html"), str) else "")
        parts.append(data.get("text/plain", ""))
        if out.get("output_type") == "error":
            parts.append("Traceback " + out.get("ename", "") + ": " + out.get("evalue", ""))
    return "".join(parts)


def panel_results(nb) -> list[str]:
    """The results the check panels showed, in order (from the saved widget state)."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    values = [str(model.get("state", {}).get("value", "")) for model in state.get("state", {}).values()]
    return [v for v in values if "maillab-status" in v]


def run_notebook(lab_id: str, tmp_path, monkeypatch, learner: str, path=None, timeout: int = 300):
    """Execute the lab's notebook (or `path`) in the MailLab kernel; returns (notebook, all output text)."""
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    server.prepare(workspace)
    for name, value in server.jupyter_env(workspace).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MAILLAB_LEARNER", learner)
    nb = nbformat.read(path or course.find(lab_id).notebook, as_version=4)
    NotebookClient(nb, kernel_name="maillab", timeout=timeout, startup_timeout=60, store_widget_state=True,
                   resources={"metadata": {"path": str(workspace)}}).execute()
    return nb, "\n".join(outputs_text(c) for c in nb.cells)
