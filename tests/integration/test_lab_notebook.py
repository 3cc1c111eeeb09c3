"""Does the install-postfix notebook, run top to bottom headless, get every step to PASS?"""
import nbformat
import pytest
from nbclient import NotebookClient

from grader import lab as labs
from grader.notebook import server

from .conftest import LEARNER

pytestmark = pytest.mark.machine


def outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        data = out.get("data", {})
        parts.append(data.get("text/html", "") if isinstance(data.get("text/html"), str) else "")
        parts.append(data.get("text/plain", ""))
    return "".join(parts)


def panel_results(nb) -> list[str]:
    """The results the check panels showed (from the saved widget state)."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    values = [str(model.get("state", {}).get("value", "")) for model in state.get("state", {}).values()]
    return [v for v in values if "maillab-status" in v]


def test_the_lab_notebook_runs_headless_and_every_step_passes(lab02, tmp_path, monkeypatch):
    lab02.reset()  # a fresh machine at the start of the lab
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    server.prepare(workspace)
    for name, value in server.jupyter_env(workspace).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MAILLAB_LEARNER", LEARNER)
    lab = labs.find("install-postfix")
    nb = nbformat.read(lab.notebook, as_version=4)
    NotebookClient(nb, kernel_name="maillab", timeout=180, startup_timeout=60, store_widget_state=True,
                   resources={"metadata": {"path": str(workspace)}}).execute()

    everything = "\n".join(outputs_text(c) for c in nb.cells)
    assert "Traceback" not in everything
    assert "mail.example.test" in everything            # `!hostname --fqdn` ran inside the machine
    assert "Setting up postfix" in everything            # the learner's own install cell did the work
    assert "The journey of message" in everything and "mailbox on mail" in everything  # lab.mailflow()
    shown = panel_results(nb)
    assert len(shown) == len(lab.steps)                  # one check panel per step
    assert all("maillab-pass" in html and "<strong>PASS</strong>" in html for html in shown), shown
    progress = lab02.progress()
    assert all(progress[s.id]["passed_now"] for s in lab.steps)
