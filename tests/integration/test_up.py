"""`maillab up` serves the course: the MailLab kernel, the notebooks, the machine's files, and a
terminal that is a root shell inside the machine."""
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tornado.websocket import websocket_connect

from .conftest import LEARNER

pytestmark = pytest.mark.machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


async def terminal_says(base: str, token: str, command: str, until: str) -> str:
    request = urllib.request.Request(f"{base}/api/terminals?token={token}", method="POST")
    name = json.load(urllib.request.urlopen(request, timeout=5))["name"]
    ws = await websocket_connect(f"{base.replace('http', 'ws')}/terminals/websocket/{name}?token={token}")
    await ws.write_message(json.dumps(["stdin", command + "\r"]))
    seen = ""
    deadline = time.monotonic() + 20
    while until not in seen and time.monotonic() < deadline:
        message = json.loads(await asyncio.wait_for(ws.read_message(), 20))
        if message[0] == "stdout":
            seen += message[1]
    ws.close()
    return seen


def test_up_serves_the_course(lab02, tmp_path):
    lab02.reset()
    port = free_port()
    workspace = tmp_path / "course"
    exe = str(Path(sys.executable).with_name("maillab"))
    server = subprocess.Popen([exe, "up", "--no-browser", "--port", str(port), "--workspace", str(workspace)],
                              env={**os.environ, "MAILLAB_LEARNER": LEARNER}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        token = None
        while time.monotonic() < deadline:
            token_file = workspace / ".maillab" / "token"
            if token_file.exists():
                token = token_file.read_text().strip()
                try:
                    get(f"{base}/api/status?token={token}")
                    break
                except OSError:
                    pass
            time.sleep(0.2)
        else:
            pytest.fail("JupyterLab did not answer within 60 s")
        assert get(f"{base}/api/kernelspecs?token={token}")["default"] == "maillab"
        names = {c["name"] for c in get(f"{base}/api/contents?token={token}")["content"]}
        assert "02-install-postfix.ipynb" in names and "machines" in names
        assert get(f"{base}/api/contents/machines/install-postfix/mail/etc/hostname?token={token}"
                   )["content"].strip() == "mail"
        seen = asyncio.run(terminal_says(base, token, "hostname --fqdn; echo DONE-$((6*7))", "DONE-42"))
        assert "root@mail:" in seen and "mail.example.test" in seen
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    assert "Traceback" not in output
    assert "http://127.0.0.1:" in output
