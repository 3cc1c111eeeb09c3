"""A real kernel started from the generated kernelspec (nbclient), as JupyterLab would start it."""
from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from classroom.notebook import server
from classroom.notebook.not_open import NOT_OPEN
from classroom.notebook.shell import NO_MACHINE


@pytest.fixture
def jupyter(tmp_path, monkeypatch):
    """A workspace prepared as `maillab up` does, with this process's env switched to it."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    state = server.prepare(workspace, shell_command=["/bin/true"])
    for name, value in server.jupyter_env(workspace).items():
        monkeypatch.setenv(name, value)
    return workspace, state


def run_notebook(workspace, *sources: str, kernel: str = "maillab", timeout: int = 60):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(nb, kernel_name=kernel, timeout=timeout, startup_timeout=30,
                   resources={"metadata": {"path": str(workspace)}}).execute()
    return ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]


def test_the_maillab_kernelspec_is_found_first(jupyter):
    workspace, state = jupyter
    spec = KernelSpecManager().get_kernel_spec("maillab")
    assert spec.resource_dir.startswith(str(state / "data"))
    assert "--ext=classroom.notebook.shell" in spec.argv
    assert "--InteractiveShellApp.reraise_ipython_extension_failures=True" in spec.argv


def test_the_kernel_loads_the_extension_and_fails_closed(jupyter, tmp_path):
    workspace, _ = jupyter
    target = tmp_path / "made-on-the-host"
    outputs = run_notebook(
        workspace,
        "print('classroom.notebook.shell' in get_ipython().extension_manager.loaded)",
        f"!echo host-echo; touch {target}",
        "print('exit code', _exit_code)",
    )
    assert outputs[0].strip() == "True"
    assert NO_MACHINE in outputs[1] and "host-echo" not in outputs[1]
    assert outputs[2].strip() == "exit code 1"
    assert not target.exists()


def test_the_kernel_runs_commands_in_the_attached_machine(jupyter):
    workspace, _ = jupyter
    outputs = run_notebook(
        workspace,
        "from classroom.notebook import use_machine\n"
        "class Machine:\n"
        "    name = 'fake'\n"
        "    def enter_argv(self, argv, *, tty=False):\n"
        "        return ['env', '-i', 'MAILLAB_IN_FAKE_MACHINE=1', *argv]\n"
        "use_machine(Machine())",
        "!echo inside=$MAILLAB_IN_FAKE_MACHINE",
        "%%bash\necho bash=$MAILLAB_IN_FAKE_MACHINE",
    )
    assert "inside=1" in outputs[1]
    assert "bash=1" in outputs[2]


def test_a_kernel_whose_extension_fails_dies_instead_of_running_on_the_host(jupyter, tmp_path):
    workspace, state = jupyter
    server.write_kernelspec(state / "data", server.kernel_argv(extension="classroom.notebook.no_such_module"))
    target = tmp_path / "made-on-the-host"
    manager = KernelManager(kernel_name="maillab")
    manager.start_kernel(cwd=str(workspace))
    client = manager.client()
    client.start_channels()
    try:
        client.execute(f"!touch {target}")  # queued before the kernel is ready: it must never run
        with pytest.raises(RuntimeError, match="died"):
            client.wait_for_ready(timeout=30)
        assert not manager.is_alive()
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert not target.exists()


def test_a_lab_notebook_runs_headless_with_widgets(jupyter):
    """The cells a lab notebook has, in a real kernel: open_lab, `!cmd`, lab.check."""
    workspace, _ = jupyter
    here = str(Path(__file__).parent)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in (
        f"import sys, types; sys.path.insert(0, {here!r})\n"
        "from notebook_fakes import FakeSession\n"
        "stand_in = types.ModuleType('classroom.session')\n"
        "stand_in.open_session = lambda lab_id, learner=None: FakeSession()\n"
        "sys.modules['classroom.session'] = stand_in",
        "from classroom.notebook import open_lab\nlab = open_lab('install-postfix')",
        "!echo inside=$MAILLAB_IN_FAKE_MACHINE",
        "lab.check('install')",
    )])
    NotebookClient(nb, kernel_name="maillab", timeout=60, startup_timeout=30, store_widget_state=True,
                   resources={"metadata": {"path": str(workspace)}}).execute()
    assert "inside=1" in nb.cells[2].outputs[0]["text"]
    states = [m["state"] for m in nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"].values()]
    values = [s.get("value") for s in states]
    assert any("<strong>PASS</strong>" in str(v) for v in values)
    assert any("1 of 2 steps passed" in str(v) for v in values)
    assert any("is running" in str(v) for v in values)
    assert not any("Checking" in str(v) for v in values)
    assert all(not s.get("disabled") for s in states if s.get("description") == "Check")


def test_a_check_cell_before_the_lab_is_open_says_what_to_do(jupyter):
    """After a kernel restart `lab` is gone: the check cell answers with a sentence, no NameError."""
    workspace, _ = jupyter
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("lab.check('install')"),
                                         nbformat.v4.new_code_cell("lab")])
    NotebookClient(nb, kernel_name="maillab", timeout=60, startup_timeout=30, allow_errors=True,
                   resources={"metadata": {"path": str(workspace)}}).execute()
    error = nb.cells[0].outputs[0]
    assert error["output_type"] == "error" and error["traceback"] == [NOT_OPEN]
    assert "NameError" not in str(nb.cells[0].outputs)
    assert NOT_OPEN in nb.cells[1].outputs[0]["data"]["text/plain"]


def test_interrupting_the_kernel_stops_a_command_in_the_machine(jupyter):
    workspace, _ = jupyter
    manager = KernelManager(kernel_name="maillab")
    manager.start_kernel(cwd=str(workspace))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=30)
        client.execute_interactive(
            "from classroom.notebook import use_machine\n"
            "class Machine:\n"
            "    name = 'fake'\n"
            "    def enter_argv(self, argv, *, tty=False):\n"
            "        return ['env', '-i', *argv]\n"
            "use_machine(Machine())", timeout=30)
        started = time.monotonic()
        client.execute("!sleep 30; echo finished")
        time.sleep(2)
        manager.interrupt_kernel()
        outputs = []
        client.execute_interactive("print('exit code', _exit_code)", timeout=20,
                                   output_hook=lambda msg: outputs.append(msg["content"].get("text", "")))
        assert time.monotonic() - started < 15
        assert "exit code -2" in "".join(outputs)  # IPython's convention: -SIGINT
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_the_course_home_notebook_redraws_its_map(jupyter, tmp_path, monkeypatch):
    """The home notebook as `maillab up` writes it, its one cell run in a real kernel."""
    from classroom.notebook import home

    workspace, _ = jupyter
    monkeypatch.setenv("MAILLAB_GRADEBOOK", str(tmp_path / "gradebook.sqlite"))
    path = home.write_home(workspace, kernel={"name": "maillab", "display_name": "MailLab (Python 3)"})
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].outputs = []
    NotebookClient(nb, kernel_name="maillab", timeout=60, startup_timeout=30,
                   resources={"metadata": {"path": str(workspace)}}).execute()
    shown = nb.cells[1].outputs[0]["data"]["text/html"]
    assert "Continue with lab 01" in shown and '<a href="02-install-postfix.ipynb">' in shown
