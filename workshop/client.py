"""A learner's lab in a workshop, seen from their (unprivileged) notebook kernel.

`RemoteSession` has LabSession's methods, so the notebook works unchanged; each call goes to the
root grader service, which acts on the caller's own lab only and keeps the gradebook. Commands in
the machine (`!cmd`, `%%bash`, the Terminal) run through `python -m workshop.enter`.
"""
from __future__ import annotations

import getpass
import socket
import sys
from pathlib import Path
from typing import Any

from grader.errors import MailLabError, UsageError
from grader.i18n import Msg, _
from grader.course import Lab
from grader.result import StepResult
from sandbox.errors import SandboxError

from . import protocol
from .settings import socket_path



def unreachable(why: object) -> Msg:
    """The sentence a learner reads when the grader service cannot be reached."""
    return _("The workshop's grader cannot be reached ({why}). Try again in a moment; if it "
             "keeps happening, tell your instructor.", why=why)



def call(op: str, *, path: Path | None = None, fds: list[int] | None = None, **fields: Any) -> Any:
    """One request to the grader service; its answer, or its refusal raised as a MailLab error."""
    with connect(path) as sock:
        protocol.send(sock, {"op": op, **fields}, fds)
        return answer(protocol.Reader(sock))


def connect(path: Path | None = None) -> socket.socket:
    where = path or socket_path()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(where))
    except OSError as exc:
        sock.close()
        raise MailLabError(unreachable(exc.strerror or str(exc))) from None
    return sock


def answer(reader: protocol.Reader) -> Any:
    try:
        reply = reader.receive()
    except (OSError, protocol.ProtocolError):
        reply = None
    if reply is None:
        raise MailLabError(_("The workshop's grader closed the connection without an answer. Try again; if it "
                             "keeps happening, tell your instructor."))
    if not reply.get("ok"):
        error = UsageError if reply.get("kind") == "usage" else MailLabError
        raise error(str(reply.get("error")))
    return reply.get("result")


class RemoteMachine:
    """What the notebook's shell escapes need of a machine: its name and how to enter it."""

    # Its files are in the workspace's `machines/LAB/NAME`, served by the grader service (workshop/files.py, workshop/files_manager.py).
    served_files = True

    def __init__(self, session: "RemoteSession", name: str | None):
        self.session = session
        self.decl_name = name
        self.name = session.machine_name(name)

    @property
    def root(self) -> Path:
        # The host's path of a machine is root's alone; the file browser's `machines/LAB/NAME` shows its
        # files through the grader service (workshop/files.py). Anything else asking for it reads this.
        raise MailLabError(_("in a workshop, open them in the Terminal (for example `nano /etc/postfix/main.cf`)."))

    def enter_argv(self, argv: list[str], *, tty: bool = False, env: dict | None = None,
                   cwd: str = "/root") -> list[str]:
        command = [sys.executable, "-m", "workshop.enter", "--lab", self.session.lab.id]
        if self.decl_name:
            command += ["--machine", self.decl_name]
        if tty:
            command.append("--tty")
        return [*command, "--", *argv]

    def running(self) -> bool:
        return self.session.started()


class RemoteSession:
    """LabSession's interface for a learner in a workshop (every call goes to the service)."""

    def __init__(self, lab: Lab, learner: str | None = None, *, path: Path | None = None):
        self.lab = lab
        self.learner = getpass.getuser()  # the service knows it anyway, from the socket
        self.path = path

    def _call(self, op: str, **fields: Any) -> Any:
        from grader.i18n import language

        # The service answers in the learner's language (their notebook's edition).
        return call(op, path=self.path, lab=self.lab.id, lang=language(), **fields)

    def machine_name(self, name: str | None = None) -> str:
        return f"{self.learner}--{self.lab.id}--{self.lab.machine(name).name}"

    def machine(self, name: str | None = None) -> RemoteMachine:
        self.lab.machine(name)  # an unknown machine is refused here, with its sentence
        return RemoteMachine(self, name)

    def machines(self) -> list[RemoteMachine]:
        return [self.machine(d.name) for d in self.lab.machines]

    def started(self) -> bool:
        return bool(self._call("started"))

    def start(self, *, quiet: bool = True) -> None:
        self._call("start")

    def require_started(self) -> None:
        if not self.started():
            raise UsageError(_("Your lab machine is not started: run the first cell of the lab."))

    def check(self, step_id: str) -> StepResult:
        self.lab.step(step_id)
        return StepResult.from_dict(self._call("check", step=step_id))

    def solve(self, step_id: str, *, only: bool = False) -> list[str]:
        self.lab.step(step_id)
        return list(self._call("solve", step=step_id, only=only))

    def skip_to(self, step_id: str) -> list[str]:
        self.lab.step(step_id)
        return list(self._call("skip", step=step_id))

    def record_guidance(self, step_id: str, mode: str) -> None:
        self.lab.step(step_id)
        self._call("guidance", step=step_id, mode=mode)

    def reset(self, step_id: str | None = None, *, quiet: bool = True) -> None:
        if step_id is not None:
            self.lab.step(step_id)
        self._call("reset", step=step_id)

    def last_result(self, step_id: str) -> StepResult | None:
        data = self._call("last_result", step=step_id)
        return None if data is None else StepResult.from_dict(data)

    def progress(self) -> dict:
        return dict(self._call("progress"))

    def node(self, name: str, action: str) -> str:
        return str(self._call("node", node=name, action=action))

    def node_states(self) -> dict:
        return dict(self._call("node_states"))

    def mail_logs(self, first: str | None = None) -> list[tuple[str, str]]:
        """Each machine's mail log since the lab's start, `first` first (what lab.mailflow draws from)."""
        return [(str(name), str(text)) for name, text in self._call("mail_logs", machine=first)]

    def stop(self) -> None:
        raise MailLabError(_("In a workshop stopping machines is done by the grader service, not in your notebook."))

    @property
    def gradebook(self):
        raise MailLabError(_("In a workshop keeping the gradebook is done by the grader service, not in your "
                             "notebook."))


__all__ = ["RemoteSession", "RemoteMachine", "call", "remote_session", "SandboxError"]


def remote_session(lab: Lab) -> RemoteSession:
    """The `maillab.remote_session` entry point: a learner's session carried out by the grader service."""
    return RemoteSession(lab)
