"""Driving a workshop from outside, as a room of learners would: through JupyterHub's REST API.

Used by the workshop tests and bench/workshop: create learners, start their servers (retrying
when the hub says "too many spawning now", 429), and run code in a learner's own kernel over the
Jupyter protocol, exactly as their notebook does.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import websocket


class Hub:
    def __init__(self, url: str, token: str):
        self.url = url.rstrip("/") + "/"
        self.token = token

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = None,
                timeout: float = 60.0, headers: dict | None = None) -> tuple[int, Any, dict]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path.lstrip("/"), data=data, method=method, headers={
            "Authorization": f"token {token or self.token}", "Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return response.status, _decode(response.read()), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read()), dict(exc.headers)

    def api(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        status, data, _ = self.request(method, "hub/api" + path, body, **kw)
        return status, data

    def create_users(self, names: list[str]) -> None:
        status, data = self.api("POST", "/users", {"usernames": names})
        if status not in (201, 409):
            raise RuntimeError(f"creating users: {status} {data}")

    def delete_user(self, name: str) -> None:
        self.api("DELETE", f"/users/{name}/server")
        for _ in range(100):
            status, data = self.api("DELETE", f"/users/{name}")
            if status in (204, 404):
                return
            time.sleep(0.3)  # still stopping

    def start_server(self, name: str, timeout: float = 180.0) -> float:
        """Ask for the learner's server and wait until it is ready; returns the seconds it took.
        A 429 (spawn throttling) is retried after the hub's Retry-After, as a browser would."""
        began = time.monotonic()
        deadline = began + timeout
        while True:
            status, data, headers = self.request("POST", f"hub/api/users/{name}/server")
            if status in (201, 202, 400):  # 400: already running or pending
                break
            if status == 429 and time.monotonic() < deadline:
                time.sleep(min(float(headers.get("Retry-After", "2")), 5.0))
                continue
            raise RuntimeError(f"starting {name}'s server: {status} {data}")
        while time.monotonic() < deadline:
            status, user = self.api("GET", f"/users/{name}")
            server = (user or {}).get("servers", {}).get("", {})
            if server.get("ready"):
                return time.monotonic() - began
            if status == 200 and not server and not user.get("pending"):
                raise RuntimeError(f"{name}'s server stopped while starting")
            time.sleep(0.25)
        raise TimeoutError(f"{name}'s server was not ready within {timeout:.0f} s")

    def user_token(self, name: str) -> str:
        status, data = self.api("POST", f"/users/{name}/tokens", {"note": "maillab test", "expires_in": 3600})
        if status != 201:
            raise RuntimeError(f"token for {name}: {status} {data}")
        return data["token"]


def _decode(raw: bytes) -> Any:
    """JSON when it is JSON, else the text (error pages, HTML results)."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


class Kernel:
    """A kernel in a learner's own server, driven over its websocket."""

    def __init__(self, hub: Hub, user: str, token: str, kernel: str = "maillab"):
        self.hub, self.user, self.token = hub, user, token
        status, data, _ = hub.request("POST", f"user/{user}/api/kernels", {"name": kernel}, token=token)
        if status != 201:
            raise RuntimeError(f"{user}: starting a kernel: {status} {data}")
        self.id = data["id"]
        self.ws = self._connect()

    def _connect(self) -> Any:
        url = self.hub.url.replace("http", "ws", 1) + f"user/{self.user}/api/kernels/{self.id}/channels"
        return websocket.create_connection(url, header=[f"Authorization: token {self.token}"], timeout=120)

    def run(self, code: str, timeout: float = 120.0) -> tuple[str, str]:
        """Execute code; (stdout+display text, error text or "")."""
        # A connection left unread for a while misses the server's pings and is closed by it (after
        # 90 s), as a browser tab's would be; like JupyterLab, connect again: the kernel lives on.
        self.ws.close()
        self.ws = self._connect()
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": self.user,
                       "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        out, error, idle, replied = [], "", False, False
        deadline = time.monotonic() + timeout
        while not (idle and replied):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.user}: the kernel did not finish within {timeout:.0f} s")
            message = json.loads(self.ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                out.append(content["data"].get("text/plain", ""))
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
            elif kind == "execute_reply":
                replied = True
        return "".join(out), error

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.hub.request("DELETE", f"user/{self.user}/api/kernels/{self.id}", token=self.token)
