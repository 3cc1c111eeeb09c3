"""The JupyterLab setup `maillab up` writes, and a real server started from it."""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_server.serverapp import ServerApp
from jupyter_server.services.contents.filemanager import FileContentsManager
from jupyter_server.services.kernels.kernelmanager import MappingKernelManager
from jupyterlab.labapp import LabApp
from traitlets.config.loader import PyFileConfigLoader

from classroom.notebook import server
from classroom.notebook.checkpoints import PrivateCheckpoints

SHELL = ["/opt/maillab/venv/bin/maillab", "shell"]


@pytest.fixture
def workspace(tmp_path):
    path = tmp_path / "workspace"
    path.mkdir()
    return path


def load_config(state):
    return PyFileConfigLoader("jupyter_server_config.py", path=str(state / "config")).load_config()


def test_the_config_file_is_python_that_sets_the_terminal_command(workspace):
    state = server.prepare(workspace, shell_command=SHELL)
    config = load_config(state)
    assert config.ServerApp.terminado_settings == {"shell_command": SHELL}
    assert config.ServerApp.root_dir == str(workspace.resolve())
    assert config.FileContentsManager.delete_to_trash is False
    assert config.PrivateCheckpoints.root_dir == str(state / "checkpoints")
    assert config.MappingKernelManager.default_kernel_name == "maillab"
    assert config.LabApp.news_url is None


def test_every_configured_setting_exists_in_the_installed_jupyter(workspace):
    """A misspelt setting would only be warned about; here it fails."""
    classes = {"ServerApp": ServerApp, "FileContentsManager": FileContentsManager, "LabApp": LabApp,
               "PrivateCheckpoints": PrivateCheckpoints, "MappingKernelManager": MappingKernelManager,
               "KernelSpecManager": KernelSpecManager}
    config = load_config(server.prepare(workspace, shell_command=SHELL))
    for section, settings in config.items():
        traits = classes[section].class_traits(config=True)
        for name in settings:
            assert name in traits, f"{section}.{name}"


def test_the_terminal_enters_the_machine_with_this_python(workspace):
    config = load_config(server.prepare(workspace))
    assert config.ServerApp.terminado_settings == {
        "shell_command": [server.sys.executable, "-m", "classroom.notebook.terminal"]}


def test_check_panels_are_saved_with_the_notebook_unless_the_learner_said_otherwise(workspace):
    state = server.prepare(workspace, shell_command=SHELL)
    settings = state / "config" / "lab" / "user-settings" / "@jupyter-widgets" / "jupyterlab-manager" / "plugin.jupyterlab-settings"
    assert json.loads(settings.read_text()) == {"saveState": True}
    settings.write_text('{"saveState": false}')
    server.prepare(workspace, shell_command=SHELL)
    assert json.loads(settings.read_text()) == {"saveState": False}


def test_the_environment_puts_the_private_kernelspec_first(workspace):
    state = server.prepare(workspace, shell_command=SHELL)
    env = server.jupyter_env(workspace, base={"JUPYTER_PATH": "/elsewhere", "JUPYTER_TOKEN": "leak"})
    assert env["JUPYTER_PATH"].split(os.pathsep) == [str(state / "data"), "/elsewhere"]
    assert env["JUPYTER_CONFIG_DIR"] == str(state / "config")
    assert env["TRAITLETS_APPLICATION_RAISE_CONFIG_FILE_ERROR"] == "1"
    assert env["MAILLAB_WORKSPACE"] == str(workspace.resolve())
    assert "JUPYTER_TOKEN" not in env
    assert (state / "token").stat().st_mode & 0o077 == 0
    assert server.token(state) == server.token(state)  # kept across restarts


def test_the_server_argv(workspace):
    argv = server.server_argv(port=9999, open_path="02-install-postfix.ipynb")
    assert argv[1:4] == ["-m", "jupyter", "lab"]
    assert {"--ip=127.0.0.1", "--port=9999", "--allow-root", "--ServerApp.open_browser=False",
            "--ServerApp.default_url=/lab/tree/02-install-postfix.ipynb"} <= set(argv)


def api(port, token, path, method="GET", body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def test_a_real_server_offers_only_the_maillab_kernel_and_keeps_checkpoints_private(workspace, tmp_path):
    machine_root = tmp_path / "machine-root"
    (machine_root / "etc" / "postfix").mkdir(parents=True)
    (machine_root / "etc" / "postfix" / "main.cf").write_text("myhostname = mail.example.test\n")
    (workspace / "machine").symlink_to(machine_root)
    state = server.prepare(workspace, shell_command=SHELL)
    port = server.free_port(0)
    proc = subprocess.Popen(server.server_argv(port=port), env=server.jupyter_env(workspace),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        token = server.token(state)
        deadline = time.monotonic() + 60
        while True:
            try:
                specs = api(port, token, "kernelspecs")
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.3)
        assert specs["default"] == "maillab" and list(specs["kernelspecs"]) == ["maillab"]
        api(port, token, "contents/machine/etc/postfix/main.cf/checkpoints", method="POST", body={})
        assert not (machine_root / "etc" / "postfix" / ".ipynb_checkpoints").exists()
        saved = list((state / "checkpoints").rglob("main-checkpoint.cf"))
        assert len(saved) == 1 and saved[0].read_text() == "myhostname = mail.example.test\n"
        api(port, token, "contents/machine/etc/postfix/main.cf", method="PUT",
            body={"type": "file", "format": "text", "content": "myhostname = mx.example.test\n"})
        assert (machine_root / "etc" / "postfix" / "main.cf").read_text() == "myhostname = mx.example.test\n"
        assert os.listdir(machine_root / "etc" / "postfix") == ["main.cf"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_broken_config_file_stops_the_server(workspace):
    """Otherwise Jupyter skips it silently, and terminals open on the host."""
    state = server.prepare(workspace, shell_command=SHELL)
    with open(state / "config" / "jupyter_server_config.py", "a") as config:
        config.write("c.ServerApp.terminado_settings = {\n")
    done = subprocess.run(server.server_argv(port=server.free_port(0)), env=server.jupyter_env(workspace),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "jupyter_server_config.py" in done.stderr


def test_serve_copies_the_notebooks_prints_the_address_and_returns_the_exit_code(workspace, tmp_path,
                                                                                   monkeypatch, capsys):
    source = tmp_path / "lab.ipynb"
    source.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    started = {}

    class FakeJupyter:
        def __init__(self, argv, env, cwd):
            started.update(argv=argv, env=env, cwd=cwd)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def wait(self):
            return 3

    monkeypatch.setattr(server.subprocess, "Popen", FakeJupyter)
    code = server.serve(workspace, [(source, "02-install-postfix.ipynb")], open_path="02-install-postfix.ipynb",
                        port=8765, shell_command=SHELL)
    assert code == 3
    assert (workspace / "02-install-postfix.ipynb").exists()
    token = server.token(server.state_dir_for(workspace))
    assert f"http://127.0.0.1:8765/lab/tree/02-install-postfix.ipynb?token={token}" in capsys.readouterr().out
    assert "--port=8765" in started["argv"] and started["cwd"] == workspace.resolve()
    assert started["env"]["JUPYTER_CONFIG_DIR"] == str(server.state_dir_for(workspace.resolve()) / "config")


def test_the_page_asks_no_news_question(workspace):
    """Offline course: JupyterLab's news/update announcements plugin is disabled in the page config."""
    state = server.prepare(workspace, shell_command=SHELL)
    page = json.loads((state / "config" / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"]["@jupyterlab/apputils-extension:announcements"] is True
