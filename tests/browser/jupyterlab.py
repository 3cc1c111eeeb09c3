"""Driving JupyterLab in a real browser: a `maillab up` server, Debian's Chromium, and the few
page actions the tests need. Every wait is on a state of the page, never a sleep."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running `maillab up`."""
    process: subprocess.Popen
    base: str
    workspace: Path
    started: float
    log: Path
    token: str = ""

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str):
        with urllib.request.urlopen(self.url(path), timeout=5) as response:
            return json.load(response)

    def stop(self) -> str:
        """Stop `maillab up` as Ctrl-C or a closed terminal would; returns everything it printed."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        return self.log.read_text(errors="replace")


def start_server(workspace: Path, env: dict[str, str], *, timeout: float = 60, args: tuple[str, ...] = ()) -> Server:
    """`maillab up --no-browser [args]` on a free port; returns once its API answers."""
    port = free_port()
    exe = str(Path(sys.executable).with_name("maillab"))
    Path(workspace).parent.mkdir(parents=True, exist_ok=True)
    log = Path(workspace).parent / f"maillab-up-{port}.log"  # a file: a full pipe would stall the server
    started = time.monotonic()
    with open(log, "wb") as out:
        process = subprocess.Popen([exe, "up", "--no-browser", "--port", str(port), "--workspace", str(workspace), *args],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(process, f"http://127.0.0.1:{port}", workspace, started, log)
    token_file = workspace / ".maillab" / "token"
    deadline = started + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"maillab up stopped: {log.read_text(errors='replace')}")
        if token_file.exists():
            server.token = token_file.read_text().strip()
            try:
                server.api("api/status")
                return server
            except OSError:
                pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"JupyterLab did not answer within {timeout} s")


def launch_browser(playwright, profile: Path):
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1400, "height": 1000})


class Lab:
    """One JupyterLab page."""

    def __init__(self, page, server: Server, shots: Path | None = None):
        self.page = page
        self.server = server
        self.shots = shots
        self._shot = 0

    def open(self, path: str, *, timeout: float = 60_000) -> None:
        """Open a notebook with a fresh layout (`?reset`) and wait until its kernel is idle."""
        self.page.goto(self.server.url(f"lab/tree/{path}?reset"))
        self.wait_idle(timeout=timeout)

    def wait_idle(self, *, timeout: float = 60_000) -> None:
        self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first.wait_for(timeout=timeout)
        self.page.wait_for_function(
            "() => [...document.querySelectorAll('#jp-main-statusbar .jp-StatusBar-TextItem')]"
            ".some(n => /\\| Idle$/.test(n.textContent.trim()))", timeout=timeout)

    @property
    def notebook(self):
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first

    def cell(self, index: int):
        return self.notebook.locator(".jp-Cell").nth(index)

    def cell_with(self, text: str):
        return self.notebook.locator(".jp-CodeCell", has=self.page.locator(".jp-InputArea", has_text=text)).first

    def learner_cell(self, number: int):
        """The `number`-th cell left empty for the learner's commands (0: the first step's)."""
        return self.notebook.locator(".jp-CodeCell", has=self.page.locator(
            ".jp-InputArea", has_text="Your commands for this step")).nth(number)

    def type_into(self, cell, text: str) -> None:
        """Write `text` at the end of a cell, as a learner typing it (the editor's own indenting aside)."""
        cell.scroll_into_view_if_needed()
        cell.locator(".cm-content").first.click()
        self.page.keyboard.press("Control+End")
        self.page.keyboard.insert_text("\n" + text)

    def run(self, cell, *, timeout: float = 120_000) -> None:
        """Run one cell (select it, Shift+Enter) and wait until it has finished."""
        cell.scroll_into_view_if_needed()
        prompt = cell.locator(".jp-InputPrompt").first
        before = prompt.text_content()
        prompt.click()
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Shift+Enter")
        # A finished cell shows a new execution count, e.g. [3] (running shows [*]).
        self.page.wait_for_function(
            "([p, before]) => p.textContent !== before && /\\[\\d+\\]/.test(p.textContent)",
            arg=[prompt.element_handle(), before], timeout=timeout)

    def shot(self, name: str) -> None:
        if self.shots is not None:
            self._shot += 1
            self.page.screenshot(path=str(self.shots / f"{self._shot:02d}-{name}.png"))
