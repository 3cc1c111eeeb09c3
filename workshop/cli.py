"""`maillab workshop up|down|status`: a room of learners on this server, behind JupyterHub."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from grader import course
from grader.errors import MailLabError, UsageError
from grader.i18n import N_, _, chosen, tr
from sandbox import paths

from .settings import (DIR_ENV, SETTINGS_ENV, WorkshopSettings, free_ports, new_password, port_is_free, proxy_command,
                       run_dir, settings_file, state_dir, venv_bin)

HUB_CONFIG = Path(__file__).with_name("hub_config.py")
START_TIMEOUT = 90.0
STOP_TIMEOUT = 60.0

NOT_RUNNING = N_("No workshop is running here. Start one with `maillab workshop up --seats N`.")


def add_parser(sub: Any, parser_class: type) -> None:
    ws = sub.add_parser("workshop", help=tr("a workshop: JupyterHub for a room of learners (instructors)"))
    actions = ws.add_subparsers(dest="action", required=True, parser_class=parser_class)
    up = actions.add_parser("up", help=tr("start JupyterHub, the grader service and the dashboard"))
    up.add_argument("--seats", type=int, default=30, help=tr("learners' servers running at once (default 30)"))
    up.add_argument("--ip", default="127.0.0.1", help=tr("address learners connect to (default 127.0.0.1)"))
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--password", default=None, help=tr("the learners' shared password (default: made up and shown)"))
    up.add_argument("--instructor", action="append", default=[], help=tr("an instructor's login name (repeatable)"))
    up.add_argument("--instructor-password", default=None,
                    help=tr("instructors' password, 32+ characters (default: made up)"))
    up.add_argument("--idle-timeout", type=int, default=3600,
                    help=tr("stop a server idle this many seconds (0: never)"))
    up.add_argument("--max-age", type=int, default=0, help=tr("stop any server after this many seconds (0: no limit)"))
    up.add_argument("--concurrent-spawns", type=int, default=10,
                    help=tr("servers starting at once; more logins wait"))
    up.add_argument("--group", default="maillab-learners", help=tr("system group of the learners"))
    up.add_argument("--lab", default="install-postfix", help=tr("the lab learners see first"))
    up.add_argument("--lang", default="en", metavar="LANG",
                    help=tr("the course's language for learners: en or zh (default en)"))
    up.add_argument("--mode", choices=("guided", "challenge"), default="challenge",
                    help=tr("challenge: each step's how-to stays closed until a learner asks (default); "
                            "guided: it shows at once"))
    actions.add_parser("down", help=tr("stop the workshop (learners' files, machines and grades are kept)"))
    actions.add_parser("status", help=tr("is a workshop running, where, and who is in it"))


def run(args: Any) -> int:
    if os.geteuid() != 0:
        raise UsageError(_("A workshop runs learners' machines and system users: run it as root."))
    return {"up": up, "down": down, "status": status}[args.action](args)


# -- the hub's process --------------------------------------------------------------------

def hub_pid() -> int | None:
    try:
        pid = int((state_dir() / "hub.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _is_hub(pid) else None


def _is_hub(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return b"jupyterhub" in cmdline and state not in ("Z", "X")


def hub_url(settings: WorkshopSettings) -> str:
    """The address learners open (this server's name when the hub listens on every address)."""
    host = socket.getfqdn() if settings.ip in ("0.0.0.0", "::", "") else settings.ip
    return f"http://{host}:{settings.port}/"


def local_url(settings: WorkshopSettings) -> str:
    """The address this server reaches the hub at."""
    host = "127.0.0.1" if settings.ip in ("0.0.0.0", "::", "") else settings.ip
    return f"http://{host}:{settings.port}/"


def admin_token() -> str:
    return (state_dir() / "admin_token").read_text().strip()


def api(settings: WorkshopSettings, method: str, path: str, body: Any = None, token: str | None = None,
        timeout: float = 30.0) -> tuple[int, Any]:
    """A call to the hub's REST API; (status, decoded JSON or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{local_url(settings)}hub/api{path}", data=data, method=method,
                                     headers={"Authorization": f"token {token or admin_token()}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else None
        except ValueError:
            return exc.code, None


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value)


def up(args: Any) -> int:
    pid = hub_pid()
    if pid is not None:
        settings = WorkshopSettings.load(settings_file())
        raise UsageError(_("A workshop is already running here (JupyterHub pid {pid}, {url}). Nothing was changed. "
                           "`maillab workshop status` shows it; `maillab workshop down` stops it.",
                           pid=pid, url=hub_url(settings)))
    if args.seats < 1:
        raise UsageError(_("--seats must be at least 1."))
    if args.password is not None and len(args.password) < 8:
        raise UsageError(_("The learners' password must have at least 8 characters."))
    if not proxy_command().exists():
        raise MailLabError(_("JupyterHub's proxy is not installed ({path} is missing): run `./maillab` once from the "
                             "MailLab folder (it installs configurable-http-proxy with npm).", path=str(proxy_command())))
    if not port_is_free(args.ip, args.port):
        raise UsageError(_("Port {port} on {ip} is in use: choose another with `--port`.", port=args.port, ip=args.ip))
    course.find(args.lab)
    lang = chosen(args.lang)
    from sandbox import image

    image.ensure_image(quiet=False)
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    # Learners must not read each other's machines or the gradebook: MailLab's state is root's alone.
    os.chmod(paths.home(), 0o700)
    os.chmod(state, 0o700)
    _ensure_group(args.group)
    password = args.password or new_password()
    instructor_password = args.instructor_password or (new_password(32) if args.instructor else "")
    settings = WorkshopSettings(
        seats=args.seats, ip=args.ip, port=args.port, group=args.group, instructors=list(args.instructor), password=password,
        instructor_password=instructor_password, idle_timeout=args.idle_timeout, max_age=args.max_age,
        concurrent_spawns=max(1, args.concurrent_spawns), lab=args.lab, lang=lang, mode=args.mode, labs_dir=str(course.labs_dir().resolve()),
        home=str(paths.home().resolve()), python=sys.executable)
    import secrets

    if not (state / "admin_token").exists():
        _write_secret(state / "admin_token", secrets.token_hex(32))
    if not (paths.home() / course.DRAW_SALT).exists():  # exams drawn per learner: not from the source alone
        _write_secret(paths.home() / course.DRAW_SALT, secrets.token_hex(16))
    log = state / "hub.log"
    env = {**os.environ, SETTINGS_ENV: str(settings_file()), DIR_ENV: str(state), "MAILLAB_HOME": settings.home,
           "MAILLAB_LABS": settings.labs_dir}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    for attempt in range(3):  # a port taken between choosing and binding: choose again
        settings.hub_port, settings.proxy_api_port, settings.dashboard_port = free_ports(3, avoid=(args.port,))
        settings.save(settings_file())
        start = log.stat().st_size if log.exists() else 0
        with open(log, "ab") as out:
            hub = subprocess.Popen([venv_bin("jupyterhub"), "-f", str(HUB_CONFIG)], cwd=state, env=env,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
        try:
            _wait_until_up(settings, hub, log)
            break
        except MailLabError:
            if attempt == 2 or not _port_was_taken(log, start):
                raise
    lines = [tr("The workshop is open at {url} ({seats} seats).", url=hub_url(settings), seats=settings.seats),
             tr("Learners log in with any user name and the password: {password}", password=password)]
    if settings.instructors:
        lines.append(tr("Instructors ({names}) log in with the password: {password}",
                        names=", ".join(settings.instructors), password=instructor_password))
        lines.append(tr("The dashboard: {url}", url=f"{hub_url(settings)}services/dashboard/"))
    else:
        lines.append(tr("No instructor was named (`--instructor NAME`), so nobody can open the dashboard."))
    lines.append(tr("`maillab workshop down` closes it; grades stay in the gradebook."))
    print("\n".join(lines))
    return 0


def _ensure_group(group: str) -> None:
    import grp

    try:
        grp.getgrnam(group)
    except KeyError:
        done = subprocess.run(["groupadd", group], capture_output=True, text=True)
        if done.returncode != 0:
            raise MailLabError(_("Could not create the learners' group {group}: {error}", group=group,
                                 error=done.stderr.strip())) from None


def _wait_until_up(settings: WorkshopSettings, hub: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if hub.poll() is not None:
            _stop_leftovers(hub)
            raise MailLabError(_("JupyterHub did not start: {why} (the log is {log}).", why=_last_line(log),
                                 log=str(log)))
        try:
            status, _body = api(settings, "GET", "/", timeout=2)
            if status == 200:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.3)
    _stop_leftovers(hub)
    raise MailLabError(_("JupyterHub did not start: {why} (the log is {log}).",
                         why=_("no answer within {seconds} s", seconds=f"{START_TIMEOUT:.0f}"), log=str(log)))


def _port_was_taken(log: Path, since: int) -> bool:
    try:
        with open(log, "rb") as text:
            text.seek(since)
            return b"Address already in use" in text.read()
    except OSError:
        return False


def _stop_leftovers(hub: subprocess.Popen) -> None:
    """A hub that failed to start may leave its proxy behind: stop both (its services follow)."""
    try:
        os.killpg(hub.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proxy = int((state_dir() / "proxy.pid").read_text().strip())
        if b"configurable-http-proxy" in Path(f"/proc/{proxy}/cmdline").read_bytes():
            os.kill(proxy, signal.SIGTERM)
    except (OSError, ValueError):
        pass
    try:
        hub.wait(timeout=10)
    except subprocess.TimeoutExpired:
        hub.kill()


def _last_line(log: Path) -> str:
    try:
        lines = [l for l in log.read_text(errors="replace").splitlines() if l.strip()]
    except OSError:
        return _("it stopped")
    errors = [l for l in lines if "[E " in l or "Error" in l]
    return (errors or lines)[-1].strip() if errors or lines else _("it stopped")


def down(args: Any) -> int:
    pid = hub_pid()
    if pid is None:
        print(tr(NOT_RUNNING))
        return 0
    os.kill(pid, signal.SIGTERM)  # the hub stops learners' servers, its services and its proxy
    deadline = time.monotonic() + STOP_TIMEOUT
    while _is_hub(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _is_hub(pid):
        os.kill(pid, signal.SIGKILL)
    try:
        run_dir().rmdir()  # the grader service removed its socket; an unexpected file stays
    except OSError:
        pass
    print(tr("The workshop is closed. Learners' files, machines and grades are kept."))
    return 0


def status(args: Any) -> int:
    pid = hub_pid()
    if pid is None:
        print(tr(NOT_RUNNING))
        return 0
    settings = WorkshopSettings.load(settings_file())
    print(tr("A workshop is running at {url} (JupyterHub pid {pid}, {seats} seats, group {group}).",
             url=hub_url(settings), pid=pid, seats=settings.seats, group=settings.group))
    code, users = api(settings, "GET", "/users")
    if code == 200 and isinstance(users, list):
        learners = [u for u in users if not u.get("admin")]
        running = [u["name"] for u in learners if (u.get("servers") or {}).get("", {}).get("ready")]
        print(tr("Learners: {count}, {running} with a running server.", count=len(learners), running=len(running)))
    return 0
