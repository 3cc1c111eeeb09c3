"""The grader service: the one root process a workshop's learners may ask for anything.

It listens on a Unix socket. The kernel tells it who connected (SO_PEERCRED); the learner is that
uid's login name, and only members of the workshop's group are served. Whatever a request says,
it acts on the caller's own lab alone: start, check, solve, reset, last result, progress, a how-to seen,
commands run in their own machines (exec, and the Terminal's shell, on the terminal the caller
passed along), and the file browser's reads and writes of their own machines' files (files). Results are recorded in the gradebook here, as root: a learner gets a copy.

Run by JupyterHub as a managed service (`python -m workshop.service`).
"""
from __future__ import annotations

import fcntl
import grp
import logging
import os
import pwd
import select
import signal
import socket
import socketserver
import subprocess
import sys
import termios
import threading
from pathlib import Path
from typing import Any

from grader.errors import MailLabError, UsageError
from classroom.gradebook import GradebookError
from grader.i18n import N_, Msg, _, say, speaking, tr
from grader.state import MODES
from classroom.session import LabSession, current_lab, open_session
from sandbox import SandboxError

from . import protocol
from .lifetime import exit_with_parent
from .settings import socket_path

log = logging.getLogger("maillab.workshop.service")

# What learners read when the service refuses: one sentence, in the service's language (say()).
NOT_LEARNER = N_("This account ({user}) is not a learner of this workshop, so the grader will not act for it.")


def _not_learner(user: str) -> UsageError:
    return UsageError(Msg(NOT_LEARNER, {"user": user}))


OPS = ("start", "started", "check", "solve", "reset", "last_result", "progress", "exec", "node", "node_states",
       "guidance", "mail_logs", "skip", "files")


MAIL_LOGS_BUDGET = protocol.MAX_MESSAGE // 2  # characters of mail log in one reply, every machine's


def _tail_lines(text: str, budget: int) -> str:
    """The whole lines at the end of `text` that fit in `budget` characters."""
    if len(text) <= budget:
        return text
    tail = text[-budget:]
    return tail.split("\n", 1)[1] if "\n" in tail else ""


class Learner:
    def __init__(self, name: str, uid: int):
        self.name = name
        self.uid = uid


POD_LEARNER_ENV, POD_UID_ENV = "MAILLAB_POD_LEARNER", "MAILLAB_POD_UID"


def learner_for(uid: int, group: str) -> Learner:
    """The learner behind a uid: a member of the workshop's group (never root).

    In a pod per learner (Kubernetes, deploy/) every learner has the same uid in their own pod;
    there the service serves one learner only, named by MAILLAB_POD_LEARNER, for MAILLAB_POD_UID."""
    pod_learner = os.environ.get(POD_LEARNER_ENV)
    if pod_learner:
        if uid == 0 or str(uid) != os.environ.get(POD_UID_ENV, "1000"):
            raise _not_learner(f"uid {uid}")
        return Learner(pod_learner, uid)
    try:
        user = pwd.getpwuid(uid)
    except KeyError:
        raise _not_learner(f"uid {uid}") from None
    try:
        members = grp.getgrnam(group)
    except KeyError:
        raise _not_learner(user.pw_name) from None
    if uid == 0 or (user.pw_name not in members.gr_mem and user.pw_gid != members.gr_gid):
        raise _not_learner(user.pw_name)
    return Learner(user.pw_name, uid)


class GraderService(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, group: str):
        self.group = group
        self.locks: dict[str, threading.Lock] = {}
        self.locks_guard = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o755)
        path.unlink(missing_ok=True)
        super().__init__(str(path), Handler)
        os.chmod(path, 0o666)  # anyone may knock; SO_PEERCRED decides who gets in

    def lock_for(self, learner: str) -> threading.Lock:
        with self.locks_guard:
            return self.locks.setdefault(learner, threading.Lock())


class Handler(socketserver.BaseRequestHandler):
    server: GraderService

    def handle(self) -> None:
        sock: socket.socket = self.request
        reader = protocol.Reader(sock)
        lang = None  # the learner's language: the answer and any refusal speak it
        try:
            request = reader.receive()
            if request is None:
                return
            lang = request.get("lang") if isinstance(request.get("lang"), str) else None
            _pid, uid, _gid = protocol.peer_credentials(sock)
            learner = self.caller(uid, request)
            op = request.get("op")
            if op not in OPS:
                raise UsageError(_("The grader has no operation called {op}.", op=repr(op)))
            if op == "exec":
                code = self.exec(learner, request, reader)
                protocol.send(sock, {"ok": True, "result": {"exit": code}})
                return
            if op == "files":  # the file browser's machine folders (workshop/files.py); no lab-wide lock
                from . import files

                with speaking(lang):
                    files.serve(learner.name, request, reader, sock)
                return
            with self.server.lock_for(learner.name), speaking(lang):
                result = self.call(learner, op, request)
            protocol.send(sock, {"ok": True, "result": result})
        except protocol.ProtocolError as exc:
            self.refuse(sock, tr("The grader did not understand that request ({why}).", lang, why=str(exc)), "usage")
        except UsageError as exc:
            self.refuse(sock, say(exc, lang), "usage")
        except (MailLabError, SandboxError, GradebookError) as exc:
            self.refuse(sock, say(exc, lang), "error")
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # noqa: BLE001 - a bug of ours: the learner gets a sentence, the log the rest
            log.exception("request failed")
            self.refuse(sock, tr("The grader hit an unexpected problem ({what}). Try again; if it keeps happening, "
                                 "tell your instructor.", lang, what=type(exc).__name__ + ": " + str(exc)), "error")
        finally:
            for fd in reader.fds:
                os.close(fd)

    def caller(self, uid: int, request: dict[str, Any]) -> Learner:
        """Whose lab this request acts on: the caller's own; root (the instructors' dashboard)
        may name a learner of the workshop."""
        if uid == 0 and isinstance(request.get("learner"), str):
            try:
                named = pwd.getpwnam(request["learner"])
            except KeyError:
                raise _not_learner(request["learner"]) from None
            return learner_for(named.pw_uid, self.server.group)
        return learner_for(uid, self.server.group)

    @staticmethod
    def refuse(sock: socket.socket, sentence: str, kind: str) -> None:
        try:
            protocol.send(sock, {"ok": False, "kind": kind, "error": sentence})
        except OSError:
            pass

    # -- lab operations ------------------------------------------------------------------
    @staticmethod
    def session(learner: Learner, request: dict[str, Any]) -> LabSession:
        lab = request.get("lab") or current_lab(learner.name)
        if not lab:
            raise UsageError(_("No lab is started yet: open a lab's notebook and run its first cell."))
        if not isinstance(lab, str):
            raise protocol.ProtocolError("lab is not a string")
        return open_session(lab, learner.name)

    def call(self, learner: Learner, op: str, request: dict[str, Any]) -> Any:
        session = self.session(learner, request)
        step = request.get("step")
        if step is not None and not isinstance(step, str):
            raise protocol.ProtocolError("step is not a string")
        if op == "start":
            session.start()
            return [m.name for m in session.machines()]
        if op == "started":
            return session.started()
        if op == "check":
            return session.check(step).to_dict()
        if op == "solve":
            return session.solve(step or session.lab.steps[-1].id, only=bool(request.get("only")))
        if op == "reset":
            session.reset(step)
            return None
        if op == "skip":
            if step is None:
                raise protocol.ProtocolError("skip needs a step")
            return session.skip_to(step)
        if op == "last_result":
            last = session.last_result(step)
            return None if last is None else last.to_dict()
        if op == "node":  # faults on demand, in the caller's own lab network only
            name, action = request.get("node"), request.get("action")
            if not isinstance(name, str) or not isinstance(action, str):
                raise protocol.ProtocolError("node and action must be strings")
            return session.node(name, action)
        if op == "node_states":
            return session.node_states()
        if op == "mail_logs":  # the caller's own machines' logs since their lab started (lab.mailflow)
            first = request.get("machine")
            if first is not None and not isinstance(first, str):
                raise protocol.ProtocolError("machine is not a string")
            if first is not None:
                session.lab.machine(first)  # an unknown machine is refused with its sentence
            from grader.mailflow import lab_mail_logs

            logs = lab_mail_logs(session, first)
            budget = MAIL_LOGS_BUDGET // max(1, len(logs))  # the reply fits in one protocol message
            return [[name, _tail_lines(text, budget)] for name, text in logs]
        if op == "guidance":  # the learner's own record that they saw a how-to
            mode = request.get("mode")
            if step is None or mode not in MODES:
                raise protocol.ProtocolError("guidance needs a step and a mode")
            session.record_guidance(step, mode)
            return None
        return session.progress()

    def exec(self, learner: Learner, request: dict[str, Any], reader: protocol.Reader) -> int:
        """Run a command in the caller's machine on the terminal or pipes they passed; relay
        their signals; end it if they go away. Returns its exit code (128+N for signal N)."""
        argv = request.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise UsageError(_("Say which command to run in your machine."))
        if len(reader.fds) != 3:
            raise protocol.ProtocolError("exec needs standard input, output and error")
        session = self.session(learner, request)
        machine_name = request.get("machine")
        if machine_name is not None and not isinstance(machine_name, str):
            raise protocol.ProtocolError("machine is not a string")
        machine = session.machine(machine_name)
        if not machine.running():
            raise UsageError(_("Your lab machine is not running: run the first cell of the lab's notebook."))
        tty = bool(request.get("tty")) and os.isatty(reader.fds[0])
        term = request.get("term")
        env = {"TERM": term} if tty and isinstance(term, str) and term.isprintable() and len(term) < 64 else None
        host_argv = machine.enter_argv(argv, tty=tty, env=env)

        def prepare() -> None:
            if tty:  # the caller's terminal becomes the command's: job control and Ctrl-C work inside
                fcntl.ioctl(0, termios.TIOCSCTTY, 1)

        stdin, stdout, stderr = reader.fds
        child = subprocess.Popen(host_argv, stdin=stdin, stdout=stdout, stderr=stderr,
                                 start_new_session=True, preexec_fn=prepare, close_fds=True)
        sock: socket.socket = self.request
        try:
            while child.poll() is None:
                ready, _writable, _failed = select.select([sock], [], [], 0.2)
                if not ready:
                    continue
                message = reader.receive()
                if message is None:  # the caller is gone: so is its command
                    _signal_group(child.pid, signal.SIGKILL)
                    break
                signum = message.get("signal")
                if signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
                    _signal_group(child.pid, signum)
        finally:
            code = child.wait()
        return code if code >= 0 else 128 - code


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass


def serve(path: Path | None = None, group: str | None = None) -> None:
    from .settings import WorkshopSettings, settings_file

    if os.environ.get(POD_LEARNER_ENV):
        group = group or "-"
    group = group or WorkshopSettings.load(settings_file()).group
    server = GraderService(path or socket_path(), group)
    # Started by the hub (maybe from a shell with SIGINT ignored): stop promptly when told to.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    exit_with_parent()
    log.info("grader service listening on %s for group %s", server.server_address, group)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        Path(server.server_address).unlink(missing_ok=True)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[maillab grader %(asctime)s] %(message)s")
    if os.geteuid() != 0:
        print(tr("The workshop's grader service runs as root (it starts lab machines)."), file=sys.stderr)
        return 2
    serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
