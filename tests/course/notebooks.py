"""Running a lab's notebook headless, top to bottom, against the test learner's real machines."""
from __future__ import annotations

import re

import nbformat
from nbclient import NotebookClient

from grader import course
from classroom import layers
from classroom.lint import learner_step
from classroom.notebook import server
from classroom.notebook.howto import howto_path

FENCE = "`" * 3
SHELL_BLOCK = re.compile(rf"^{FENCE}bash\n(.*?)^{FENCE}", re.S | re.M)
PYTHON_BLOCK = re.compile(rf"^{FENCE}python\n(.*?)^{FENCE}", re.S | re.M)


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


def learner_cells(nb) -> dict[str, list]:
    """step -> the cells where the learner writes that step's commands (metadata maillab.learner)."""
    found: dict[str, list] = {}
    for cell in nb.cells:
        step = learner_step(cell)
        if step is not None:
            found.setdefault(step, []).append(cell)
    return found


def type_the_howto(nb, lab, lang: str, learner: str = "") -> None:
    """What a learner does who reads each step's how-to: its shell blocks typed into the step's cell.
    In an exam (a lab with a pool of faults) the how-to teaches where to look, not this learner's
    answers: their reference solution is typed instead."""
    if lab.pool:
        variant = course.variant_for(lab, learner)
        for step, cells in learner_cells(nb).items():
            scripts = layers.solve_scripts(lab, step, lab.machines[0].name, variant)
            cells[0].source = "%%bash\n" + "\n".join(s.text.decode() for s in scripts)
        return
    for step, cells in learner_cells(nb).items():
        path = howto_path(lab.dir, step, lang)
        assert path is not None, f"{lab.id} {step}: a step with a place to act needs a how-to"
        shell, python = SHELL_BLOCK.findall(path.read_text()), PYTHON_BLOCK.findall(path.read_text())
        assert bool(shell) != bool(python), f"{path}: the how-to of one cell is bash or Python"
        cells[0].source = "%%bash\n" + "\n".join(shell) if shell else "\n".join(python)


def run_notebook(lab_id: str, tmp_path, monkeypatch, learner: str, path=None, timeout: int = 120,
                 typed: bool = True):
    """Execute the lab's notebook (or `path`) in the MailLab kernel; returns (notebook, all output text).
    `timeout` bounds each cell (the longest takes about a minute). pyzmq's asyncio poll sometimes misses
    a kernel reply until this bound runs out and then goes on: it costs a test that long, so keep it short.
    `typed`: each step's how-to is typed into the learner's cells first (else they stay untouched)."""
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    server.prepare(workspace)
    for name, value in server.jupyter_env(workspace).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MAILLAB_LEARNER", learner)
    lab = course.find(lab_id)
    nb = nbformat.read(path or lab.notebook, as_version=4)
    if typed:
        type_the_howto(nb, lab, "zh" if str(path or "").endswith(".zh.ipynb") else "en", learner)
    NotebookClient(nb, kernel_name="maillab", timeout=timeout, startup_timeout=60, store_widget_state=True,
                   resources={"metadata": {"path": str(workspace)}}).execute()
    return nb, "\n".join(outputs_text(c) for c in nb.cells)
