"""One workshop's settings and where its state lives.

    HOME/workshop/              0700, root: the hub's database, cookie secret, pid, logs, settings
    /run/maillab-workshop-ID/   0755: grader.sock, the one door learners have to root (0666)

HOME is MailLab's state folder (MAILLAB_HOME); MAILLAB_WORKSHOP_DIR puts the workshop's folder
elsewhere (tests do); ID is derived from that folder, so two workshops never share a socket.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.errors import MailLabError
from grader.i18n import _
from sandbox import paths

SETTINGS_ENV = "MAILLAB_WORKSHOP_SETTINGS"
SOCKET_ENV = "MAILLAB_WORKSHOP_SOCKET"
DIR_ENV = "MAILLAB_WORKSHOP_DIR"


@dataclass
class WorkshopSettings:
    seats: int = 30                    # learners' servers running at once
    ip: str = "127.0.0.1"
    port: int = 8000                   # the address learners open
    hub_port: int = 0                  # internal ports (0: chosen free at `workshop up`)
    proxy_api_port: int = 0
    dashboard_port: int = 0
    group: str = "maillab-learners"    # system group of the workshop's learners
    instructors: list[str] = field(default_factory=list)
    password: str = ""                 # the shared password learners log in with
    instructor_password: str = ""      # instructors' password (at least 32 characters)
    idle_timeout: int = 3600           # seconds: an idle learner's server is stopped (0: never)
    max_age: int = 0                   # seconds: any server is stopped after this long (0: no limit)
    concurrent_spawns: int = 10        # logins starting a server at once; more wait (429, retry)
    lab: str = "install-postfix"       # the notebook learners see first
    lang: str = "en"                   # the course's edition (en, zh)
    mode: str = "challenge"            # how steps' how-tos show: challenge (when asked) or guided (at once)
    labs_dir: str = ""                 # the course (MAILLAB_LABS)
    home: str = ""                     # MAILLAB_HOME
    python: str = sys.executable       # the environment learners' servers run from

    def save(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out, indent=1)

    @classmethod
    def load(cls, path: Path) -> "WorkshopSettings":
        try:
            return cls(**json.loads(Path(path).read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise MailLabError(_("The workshop settings in {path} cannot be read ({error}): "
                                 "run `maillab workshop down`, then `maillab workshop up` again.", path=str(path),
                                 error=str(exc))) from None


def state_dir() -> Path:
    return Path(os.environ.get(DIR_ENV) or paths.home() / "workshop")


def settings_file() -> Path:
    return state_dir() / "settings.json"


def run_dir() -> Path:
    tag = hashlib.sha1(str(state_dir().resolve()).encode()).hexdigest()[:8]
    return Path("/run") / f"maillab-workshop-{tag}"


def socket_path() -> Path:
    return Path(os.environ.get(SOCKET_ENV) or run_dir() / "grader.sock")


def proxy_command() -> Path:
    """configurable-http-proxy, installed from npm into this environment by the bootstrap."""
    return Path(sys.prefix) / "node" / "node_modules" / ".bin" / "configurable-http-proxy"


def venv_bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def free_ports(count: int, ip: str = "127.0.0.1", avoid: tuple[int, ...] = ()) -> list[int]:
    """`count` distinct ports nothing listens on, below the kernel's ephemeral range.

    A port from bind(0) comes from the range outgoing connections use too, so one may take it
    before the hub binds it; ports below that range are only ever taken on purpose.
    """
    low = _ephemeral_low()
    chosen: list[int] = []
    held: list[socket.socket] = []
    try:
        for _attempt in range(2000):
            if len(chosen) == count:
                break
            port = 10000 + secrets.randbelow(max(1, low - 10000))
            if port in chosen or port in avoid:
                continue
            sock = socket.socket()
            try:
                sock.bind((ip, port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
            chosen.append(port)
    finally:
        for sock in held:
            sock.close()
    if len(chosen) < count:
        raise MailLabError(_("No free TCP ports were found on {ip} for the workshop's own services.", ip=ip))
    return chosen


def _ephemeral_low() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
    return low if low > 12000 else 32768


def port_is_free(ip: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the proxy binds: TIME_WAIT is fine
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True


def new_password(length: int = 12) -> str:
    # No look-alike characters: it is read aloud or written on a board.
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))
