"""What JupyterHub needs from MailLab: the authenticator, the spawn hook, the services, the roles.

`configure(c, settings)` fills a JupyterHub config object; hub_config.py (the file `jupyterhub -f`
reads) only calls it. Choices, measured on a 2-core server (bench/workshop): a server started the
usual way costs ~3 CPU-seconds of imports and ~100 MiB of its own, so servers are forked from
workshop.forkserver (a fork each, the imported pages shared by the room); http_timeout stays
120 s and at most `concurrent_spawns` start at once (more logins get "try again shortly", 429);
the proxy comes from npm; learners are system users in the workshop's group, homes mode 0700.
"""
from __future__ import annotations

import asyncio
import json
import os
import pwd
import sys
from pathlib import Path
from typing import Any

from jupyterhub.auth import LocalAuthenticator
from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.utils import random_port

from grader.state import MODE_ENV
from sandbox import paths

from .settings import (DIR_ENV, SETTINGS_ENV, SOCKET_ENV, WorkshopSettings, proxy_command, settings_file, socket_path,
                       state_dir, venv_bin)


class WorkshopAuthenticator(SharedPasswordAuthenticator, LocalAuthenticator):
    """One shared password for the room (another, longer one for instructors); each name that
    logs in becomes a system user in the workshop's group."""


class ForkingSpawner(LocalProcessSpawner):
    """LocalProcessSpawner whose processes are forked from workshop.forkserver, which has imported
    the single-user server once for the whole room (shared memory, a login costs a fork). If the
    fork server cannot be reached, the server is started the usual way."""

    async def start(self):
        if self.port == 0:
            self.port = random_port()
        user = pwd.getpwnam(self.user.name)
        request = {"uid": user.pw_uid, "gid": user.pw_gid, "groups": os.getgrouplist(user.pw_name, user.pw_gid),
                   "home": user.pw_dir, "env": self.get_env(), "argv": [*self.cmd, *self.get_args()]}
        try:
            pid = await _forkserver.spawn(request)
        except (OSError, RuntimeError, ValueError) as exc:
            self.log.warning("Fork server unavailable (%s): starting %s's server the usual way", exc, user.pw_name)
            return await super().start()
        self.proc = None  # not our child: poll() and stop() go by the pid
        self.pid = pid
        self.log.info("Forked %s's server: pid %s", user.pw_name, pid)
        return (self.ip or "127.0.0.1", self.port)


class ForkServer:
    """The hub's one workshop.forkserver, started at the first login (it dies with the hub)."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.lock: asyncio.Lock | None = None

    @property
    def path(self) -> Path:
        return state_dir() / "forkserver.sock"

    async def ensure(self, python: str) -> None:
        self.lock = self.lock or asyncio.Lock()
        async with self.lock:
            if self.proc is not None and self.proc.returncode is None:
                return
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": "/"}
            for name in ("PYTHONPATH", "MAILLAB_LABS"):
                if os.environ.get(name):
                    env[name] = os.environ[name]
            # Its standard input is ours: when the hub goes, it sees the end and goes too.
            self.proc = await asyncio.create_subprocess_exec(python, "-m", "workshop.forkserver", str(self.path),
                                                             stdin=asyncio.subprocess.PIPE, env=env, cwd="/")
            for _ in range(600):  # it listens once everything is imported
                if self.proc.returncode is not None:
                    raise RuntimeError(f"the fork server exited ({self.proc.returncode})")
                try:
                    _, writer = await asyncio.open_unix_connection(str(self.path))
                except OSError:
                    await asyncio.sleep(0.1)
                    continue
                writer.close()  # the child forked for this probe reads nothing and exits
                return
            raise RuntimeError("the fork server did not start within 60 s")

    async def spawn(self, request: dict) -> int:
        await self.ensure(WorkshopSettings.load(settings_file()).python)
        reader, writer = await asyncio.open_unix_connection(str(self.path))
        try:
            writer.write(json.dumps(request).encode() + b"\n")
            await writer.drain()
            answer = json.loads(await asyncio.wait_for(reader.readline(), 30) or b"{}")
        finally:
            writer.close()
        if "pid" not in answer:
            raise RuntimeError(answer.get("error") or "the fork server gave no answer")
        return int(answer["pid"])


_forkserver = ForkServer()


def service_env(settings: WorkshopSettings) -> dict[str, str]:
    """What MailLab's own services need to find the course, the state and the settings."""
    env = {"MAILLAB_HOME": settings.home, "MAILLAB_LABS": settings.labs_dir, DIR_ENV: str(state_dir()),
           SETTINGS_ENV: str(settings_file()), "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    for name in ("MAILLAB_GRADEBOOK", "PYTHONPATH"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def notebook_name(settings: WorkshopSettings) -> str:
    from grader import course
    from classroom.notebook.home import lab_notebook_name

    return lab_notebook_name(course.find(settings.lab), settings.lang)


async def prepare_learner(spawner: Any) -> None:
    """pre_spawn_hook (runs as root in the hub): the learner's workspace, made by the learner's own
    uid (so a link they planted in their home cannot make root write elsewhere), and the
    environment of their server: kernel, Terminal and notebooks wired to the grader service."""
    from classroom.notebook.server import jupyter_env

    settings = WorkshopSettings.load(settings_file())
    user = pwd.getpwnam(spawner.user.name)
    workspace = Path(user.pw_dir) / "maillab"
    state = workspace / ".maillab"
    env = {"HOME": user.pw_dir, "USER": user.pw_name, "LOGNAME": user.pw_name, "PATH": "/usr/bin:/bin",
           "MAILLAB_LABS": settings.labs_dir, "LANG": "C.UTF-8", "MAILLAB_LANG": settings.lang}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    proc = await asyncio.create_subprocess_exec(
        settings.python, "-m", "workshop.learner_home", str(workspace), cwd=user.pw_dir, env=env,
        user=user.pw_uid, group=user.pw_gid, extra_groups=os.getgrouplist(user.pw_name, user.pw_gid),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"Could not prepare the workspace of {user.pw_name}: {out.decode(errors='replace')[-500:]}")
    server_env = jupyter_env(workspace, state_dir=state, base={})
    server_env.pop("JUPYTER_TOKEN_FILE", None)  # the hub logs learners in; no second key to their server
    server_env.update({SOCKET_ENV: str(socket_path()), "MAILLAB_LABS": settings.labs_dir, "MAILLAB_LANG": settings.lang,
                       MODE_ENV: settings.mode})
    spawner.environment = server_env
    spawner.notebook_dir = str(workspace)


def configure(c: Any, settings: WorkshopSettings) -> None:
    state = state_dir()
    python = settings.python
    c.JupyterHub.bind_url = f"http://{settings.ip}:{settings.port}/"
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = settings.hub_port
    c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(state / "hub.pid")
    c.ConfigurableHTTPProxy.command = [str(proxy_command())]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
    c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
    c.ConfigurableHTTPProxy.auth_token = os.environ.get("CONFIGPROXY_AUTH_TOKEN") or _proxy_token(state)

    c.JupyterHub.authenticator_class = WorkshopAuthenticator
    c.SharedPasswordAuthenticator.user_password = settings.password
    if settings.instructor_password:
        c.SharedPasswordAuthenticator.admin_password = settings.instructor_password
    c.Authenticator.admin_users = set(settings.instructors)
    c.Authenticator.allow_all = True
    c.LocalAuthenticator.create_system_users = True
    c.LocalAuthenticator.add_user_cmd = ["useradd", "--create-home", "--shell", "/bin/bash",
                                         "--groups", settings.group, "--key", "HOME_MODE=0700"]

    c.JupyterHub.spawner_class = ForkingSpawner
    c.Spawner.cmd = [venv_bin("jupyterhub-singleuser")]
    c.Spawner.default_url = f"/lab/tree/{notebook_name(settings)}"
    c.Spawner.pre_spawn_hook = prepare_learner
    c.Spawner.http_timeout = 120
    c.Spawner.start_timeout = 120
    c.JupyterHub.concurrent_spawn_limit = settings.concurrent_spawns
    c.JupyterHub.active_server_limit = settings.seats
    c.JupyterHub.cleanup_servers = True

    env = service_env(settings)
    services: list[dict[str, Any]] = [
        {"name": "grader", "command": [python, "-m", "workshop.service"], "environment": env},
        {"name": "dashboard", "url": f"http://127.0.0.1:{settings.dashboard_port}",
         "command": [python, "-m", "workshop.dashboard"], "environment": env, "oauth_no_confirm": True,
         "display": True},
    ]
    admin_token = state / "admin_token"
    if admin_token.exists():  # `maillab workshop status`, tests and benchmarks use the REST API with it
        services.append({"name": "maillab-admin", "api_token": admin_token.read_text().strip()})
    roles: list[dict[str, Any]] = [
        {"name": "maillab-admin", "services": ["maillab-admin"],
         "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users"]},
        {"name": "maillab-dashboard", "services": ["dashboard"],
         "scopes": ["list:users", "read:users", "read:servers"]},
    ]
    if settings.idle_timeout or settings.max_age:
        culler = [python, "-m", "jupyterhub_idle_culler", f"--timeout={settings.idle_timeout or 10**9}",
                  "--cull-every=60"]
        if settings.max_age:
            culler.append(f"--max-age={settings.max_age}")
        services.append({"name": "idle-culler", "command": culler})
        roles.append({"name": "maillab-idle-culler", "services": ["idle-culler"],
                      "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]})
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = roles


def _proxy_token(state: Path) -> str:
    path = state / "proxy_token"
    if not path.exists():
        import secrets

        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip()


def load_settings() -> WorkshopSettings:
    path = os.environ.get(SETTINGS_ENV) or str(settings_file())
    settings = WorkshopSettings.load(Path(path))
    if settings.home:
        os.environ["MAILLAB_HOME"] = settings.home  # state_dir() and friends follow it
    if settings.labs_dir:
        os.environ["MAILLAB_LABS"] = settings.labs_dir
    return settings


__all__ = ["configure", "ForkingSpawner", "load_settings", "prepare_learner", "WorkshopAuthenticator", "paths", "sys"]
