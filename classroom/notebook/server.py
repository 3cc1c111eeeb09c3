"""JupyterLab for MailLab: what `maillab up` runs.

Everything Jupyter reads is written into a private state folder (default: WORKSPACE/.maillab,
hidden from the file browser), so the learner's own Jupyter setup changes nothing and nothing
here leaks into it:

    STATE/data/kernels/maillab/kernel.json   the only kernel offered: loads the shell extension,
                                             and dies rather than run `!cmd` on the host
    STATE/config/jupyter_server_config.py    terminal into the machine, private checkpoints, offline
    STATE/config/lab/user-settings/          JupyterLab settings to start from (widget state saved)
    STATE/runtime/                           connection files, server info
    STATE/checkpoints/                       checkpoints of the files the learner edits
    STATE/token                              the login token (0600), kept across restarts
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from grader.errors import MailLabError
from grader.i18n import _, available, tr

from .notebook_lab import WORKSPACE_ENV
from .home import write_home
from .workspace import KERNEL_DISPLAY_NAME, KERNEL_NAME, KERNELSPEC_METADATA, install_notebooks

SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding grader/ and sandbox/
DEFAULT_PORT = 8888


def state_dir_for(workspace: Path) -> Path:
    return Path(workspace) / ".maillab"


def kernel_argv(python: str = sys.executable, extension: str = "classroom.notebook.shell") -> list[str]:
    return [python, "-m", "ipykernel_launcher", "-f", "{connection_file}", f"--ext={extension}",
            # A failing extension is otherwise only logged, and `!cmd` then runs on the host.
            "--InteractiveShellApp.reraise_ipython_extension_failures=True"]


def write_kernelspec(data_dir: Path, argv: list[str] | None = None) -> Path:
    """Write the `maillab` kernelspec under data_dir/kernels (data_dir goes first on JUPYTER_PATH)."""
    spec_dir = Path(data_dir) / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": argv or kernel_argv(), "display_name": KERNEL_DISPLAY_NAME, "language": "python",
            "interrupt_mode": "signal", "metadata": {"debugger": False}}
    if _needs_source_path():
        spec["env"] = {"PYTHONPATH": str(SOURCE_ROOT)}
    _write(spec_dir / "kernel.json", json.dumps(spec, indent=1) + "\n")
    return spec_dir


def terminal_command() -> list[str]:
    """The command a JupyterLab terminal runs: a root shell on the learner's machine
    (classroom.notebook.terminal, which asks which machine when a lab has several)."""
    return [sys.executable, "-m", "classroom.notebook.terminal"]


CONTENTS_MANAGER = "classroom.notebook.machine_files.MachineFilesManager"


def write_server_config(config_dir: Path, *, workspace: Path, checkpoints_dir: Path,
                        shell_command: list[str], contents_manager: str = CONTENTS_MANAGER) -> Path:
    """Write jupyter_server_config.py (JUPYTER_CONFIG_DIR) for this workspace."""
    settings = {
        "ServerApp.root_dir": str(workspace),
        # The terminal enters the lab machine (a clean environment; it kills its child on SIGTERM).
        "ServerApp.terminado_settings": {"shell_command": list(shell_command)},
        # Files created under `machine` belong to the machine's root inside (see machine_files.py).
        "ServerApp.contents_manager_class": contents_manager,
        "FileContentsManager.checkpoints_class": "classroom.notebook.checkpoints.PrivateCheckpoints",
        "PrivateCheckpoints.root_dir": str(checkpoints_dir),
        # Deleting a file under `machine` must delete it there, not move it into a host trash.
        "FileContentsManager.delete_to_trash": False,
        "MappingKernelManager.default_kernel_name": KERNEL_NAME,
        # Only the MailLab kernel: in any other, `!cmd` would run on the host.
        "KernelSpecManager.allowed_kernelspecs": {KERNEL_NAME},
        "KernelSpecManager.ensure_native_kernel": False,
        # Offline: no news feed, no update check, no extension manager asking PyPI.
        "LabApp.news_url": None,
        "LabApp.check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
        "LabApp.extension_manager": "readonly",
        # No language servers here: skip looking for them, which slows every start.
        "ServerApp.jpserver_extensions": {"jupyter_lsp": False},
    }
    lines = ["# Written by MailLab (classroom/notebook/server.py) each time the server starts: edits are lost.",
             "c = get_config()  # noqa: F821", ""]
    lines += [f"c.{name} = {value!r}" for name, value in settings.items()]
    path = Path(config_dir) / "jupyter_server_config.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, "\n".join(lines) + "\n")
    return path


def prepare(workspace: Path, *, state_dir: Path | None = None,
            shell_command: list[str] | None = None, contents_manager: str = CONTENTS_MANAGER) -> Path:
    """Write the kernelspec, the server config and the token; returns the state folder."""
    workspace = Path(workspace).resolve()
    state = Path(state_dir) if state_dir else state_dir_for(workspace)
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)  # the token and connection files are in here
    for sub in ("data", "config", "runtime", "checkpoints"):
        (state / sub).mkdir(exist_ok=True)
    write_kernelspec(state / "data")
    write_server_config(state / "config", workspace=workspace, checkpoints_dir=state / "checkpoints",
                        shell_command=shell_command if shell_command is not None else terminal_command(),
                        contents_manager=contents_manager)
    write_page_config(state / "config")
    write_default_settings(state / "config")
    token(state)
    return state


# The course runs offline: no "get Jupyter news?" question, no update checks from the page.
DISABLED_PLUGINS = ("@jupyterlab/apputils-extension:announcements",)


def write_page_config(config_dir: Path) -> Path:
    """labconfig/page_config.json in the private config dir (as `jupyter labextension disable` writes it)."""
    path = Path(config_dir) / "labconfig" / "page_config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, json.dumps({"disabledExtensions": {name: True for name in DISABLED_PLUGINS}}, indent=1) + "\n")
    return path


# JupyterLab settings MailLab starts from; the learner may change them (they are written only once).
DEFAULT_SETTINGS = {
    # Check panels are saved with the notebook, so a reopened notebook shows the last results.
    "@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings": {"saveState": True},
    # Terminal text is offered to screen readers (xterm.js draws on a canvas otherwise).
    "@jupyterlab/terminal-extension/plugin.jupyterlab-settings": {"screenReaderMode": True},
}


def write_default_settings(config_dir: Path) -> None:
    """JupyterLab user settings (JUPYTER_CONFIG_DIR/lab/user-settings), unless already there."""
    for name, value in DEFAULT_SETTINGS.items():
        path = Path(config_dir) / "lab" / "user-settings" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _write(path, json.dumps(value, indent=1) + "\n")


def token(state_dir: Path) -> str:
    """The server's login token, made once and kept, so an open browser tab keeps working."""
    path = Path(state_dir) / "token"
    try:
        value = path.read_text().strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    value = secrets.token_hex(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value)
    return value


def jupyter_env(workspace: Path, *, state_dir: Path | None = None,
                base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for the server (and, through it, its kernels and terminals)."""
    workspace = Path(workspace).resolve()
    state = Path(state_dir) if state_dir else state_dir_for(workspace)
    env = dict(os.environ if base is None else base)
    env.pop("JUPYTER_TOKEN", None)  # it would win over our token file
    data = str(state / "data")
    env.update({
        "JUPYTER_PATH": os.pathsep.join(p for p in (data, env.get("JUPYTER_PATH", "")) if p),
        "JUPYTER_DATA_DIR": data,
        "JUPYTER_CONFIG_DIR": str(state / "config"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "JUPYTER_TOKEN_FILE": str(state / "token"),
        "JUPYTER_PLATFORM_DIRS": "1",
        # A config file with a mistake is otherwise skipped silently (terminals then open on the host).
        "TRAITLETS_APPLICATION_RAISE_CONFIG_FILE_ERROR": "1",
        WORKSPACE_ENV: str(workspace),
    })
    if _needs_source_path():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SOURCE_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def server_argv(*, port: int, open_path: str | None = None, open_browser: bool = False) -> list[str]:
    """The command that starts JupyterLab (run it with jupyter_env())."""
    argv = [sys.executable, "-m", "jupyter", "lab", "--ip=127.0.0.1", f"--port={port}",
            "--ServerApp.port_retries=0", "--allow-root",
            "--ServerApp.open_browser=" + ("True" if open_browser else "False")]
    if open_path:
        argv.append(f"--ServerApp.default_url=/lab/tree/{open_path}")
    return argv


def url(port: int, token_value: str, open_path: str | None = None) -> str:
    path = f"lab/tree/{open_path}" if open_path else "lab"
    return f"http://127.0.0.1:{port}/{path}?token={token_value}"


def free_port(preferred: int = DEFAULT_PORT) -> int:
    """`preferred` if nothing listens there, else any free port."""
    for candidate in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise MailLabError(_("No free TCP port was found on 127.0.0.1 for JupyterLab."))


def serve(workspace: Path, notebooks: Iterable[tuple[Path, str]], *, open_path: str | None = None,
          port: int | None = None, open_browser: bool = False, state_dir: Path | None = None,
          shell_command: list[str] | None = None, home: bool = False) -> int:
    """Set up the workspace and run JupyterLab until it stops; returns its exit code.

    notebooks: (source file, name in the workspace) pairs, copied unless the learner has them.
    open_path: the workspace path to show first (e.g. "02-install-postfix.ipynb").
    home: write the course home notebooks (the map of the labs and the learner's progress), one
    per edition.
    """
    workspace = Path(workspace).resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    install_notebooks(workspace, notebooks)
    state = prepare(workspace, state_dir=state_dir, shell_command=shell_command)
    if home:
        write_homes(workspace)
    port = port or free_port()
    ready = tr("MailLab is ready. Open this address in your browser:")
    to_stop = tr("Press Ctrl-C twice here to stop JupyterLab.")
    print(f"{ready}\n\n    {url(port, token(state), open_path)}\n\n{to_stop}", flush=True)
    with subprocess.Popen(server_argv(port=port, open_path=open_path, open_browser=open_browser),
                          env=jupyter_env(workspace, state_dir=state), cwd=workspace) as server:
        # Stopping `maillab up` (SIGTERM, a closed terminal) stops JupyterLab too, never orphans it.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda *_: server.terminate())
        while True:
            try:
                return server.wait()
            except KeyboardInterrupt:
                continue  # Ctrl-C reached JupyterLab too (same terminal): it decides when to stop


def write_homes(workspace: Path) -> None:
    """The course home of every edition (each links to the others)."""
    for edition in available():
        write_home(workspace, kernel=KERNELSPEC_METADATA, lang=edition)


def _needs_source_path() -> bool:
    """True when running from a source checkout, where grader/ is not installed for other Pythons."""
    return (SOURCE_ROOT / "pyproject.toml").is_file()


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
