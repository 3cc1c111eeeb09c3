"""Shell escapes that run inside the lab machine, never on the host.

Loaded into the notebook kernel as an IPython extension (the MailLab kernelspec passes
`--ext=classroom.notebook.shell`). Afterwards `!cmd`, `!!cmd`, `x = !cmd`, `%sx`, aliases such as
`%ls`, and the cell magics `%%bash`, `%%sh` and `%%script PROGRAM` run inside the machine chosen
with `use_machine()`.

IPython's own runners are kept (a pty for `!cmd`, so output streams live, Ctrl-C works and
`_exit_code` is set); only the argv changes: `machine.enter_argv(["/bin/bash", "-c", cmd])`.
Before a machine is chosen nothing runs at all: the learner gets a sentence saying what to do.
"""
from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from types import MethodType
from typing import Any, Callable, Protocol

from IPython.core import magic_arguments
from IPython.core.magic import cell_magic, magics_class
from IPython.core.magics.script import ScriptMagics, script_args
from IPython.utils._process_posix import ProcessHandler
from IPython.utils.process import arg_split
from IPython.utils.text import LSString, SList

from grader.i18n import N_, Msg, _, say, tr
from sandbox.errors import SandboxError

from . import not_open

# What the learner reads (English; shown in the learner's language).
NO_MACHINE = N_(
    "No lab machine is attached to this notebook yet: run the first cell of the lab "
    "(the one that starts your machine)."
)
RESTART_HINT = N_("To start your machine again, run the first cell of the lab.")
# Every command goes through the relay: a daemon it starts cannot keep the cell running.
RELAY = str(Path(__file__).with_name("relay.py"))


class Machine(Protocol):
    name: str

    def enter_argv(self, argv: list[str], *, tty: bool = False) -> list[str]: ...


class MachineUnreachable(Exception):
    """No command can be sent to the lab machine; the message is a sentence for the learner."""


_machine: Machine | None = None
# Says why the attached machine cannot be reached, in the lab's words (its name, how to start it).
_unreachable: Callable[[BaseException], object] | None = None


def use_machine(machine: Machine | None, *, unreachable: Callable[[BaseException], object] | None = None) -> None:
    """Send the notebook's shell escapes to `machine` from now on (None: to no machine at all).
    `unreachable(error)`: the sentence for a machine that cannot be entered (it knows the lab)."""
    global _machine, _unreachable
    _machine = machine
    _unreachable = unreachable


def attached_machine() -> Machine | None:
    return _machine


def machine_argv(argv: list[str]) -> list[str]:
    """The host argv that runs `argv` inside the attached machine, or MachineUnreachable."""
    machine = _machine
    if machine is None:
        raise MachineUnreachable(Msg(NO_MACHINE, {}))
    try:
        return [sys.executable, "-I", RELAY, *machine.enter_argv(list(argv))]
    except SandboxError as e:
        if _unreachable is not None:
            raise MachineUnreachable(_unreachable(e)) from None
        raise MachineUnreachable(_("{problem} To start your machine again, run the first cell of the lab.",
                                   problem=not_open.message_of(e))) from None
    except Exception as e:  # a broken machine object must not turn into a host command
        raise MachineUnreachable(_(
            "Could not reach your lab machine ({kind}: {error}). To start your machine again, run the first cell "
            "of the lab.", kind=type(e).__name__, error=not_open.message_of(e))) from None


def _bash(cmd: str) -> list[str]:
    return machine_argv(["/bin/bash", "-c", cmd])


def _tell(message: object) -> None:
    """Say `message` (a sentence, or an exception raised with one) in the learner's language."""
    text = say(message) if isinstance(message, BaseException) else str(message)
    print(text, file=sys.stderr, flush=True)


def _explain_failure() -> None:
    """After a failed command: if the machine went away meanwhile, say so in plain words."""
    try:
        machine_argv(["true"])
    except MachineUnreachable as e:
        _tell(e)


class _PtyRunner(ProcessHandler):
    """IPython's pexpect runner, made to exec our argv: the host /bin/sh only execs it."""

    _sh = "/bin/sh"

    def run(self, argv: list[str]) -> int:
        return self.system("exec " + shlex.join(argv))


_pty = _PtyRunner()


def _system(shell: Any, cmd: str) -> None:
    """Replacement for InteractiveShell.system (and system_raw, system_piped)."""
    if cmd.rstrip().endswith("&"):
        raise OSError(tr("Background processes not supported."))  # shown by IPython as str()
    # depth=1: expand $var and {var} in the frame that called shell.system(), as IPython does.
    expanded = shell.var_expand(cmd, depth=1)
    try:
        argv = _bash(expanded)
    except MachineUnreachable as e:
        _tell(e)
        exit_code = 1
    else:
        exit_code = _pty.run(argv)
        if exit_code != 0:
            _explain_failure()
    shell.user_ns["_exit_code"] = exit_code
    if getattr(shell, "system_raise_on_error", False) and exit_code != 0:
        raise subprocess.CalledProcessError(exit_code, cmd)


def _getoutput(shell: Any, cmd: str, split: bool = True, depth: int = 0) -> SList | LSString:
    """Replacement for InteractiveShell.getoutput (`x = !cmd`, `!!cmd`, `%sx`)."""
    if cmd.rstrip().endswith("&"):
        raise OSError(tr("Background processes not supported."))  # shown by IPython as str()
    expanded = shell.var_expand(cmd, depth=depth + 1)
    try:
        argv = _bash(expanded)
    except MachineUnreachable as e:
        _tell(e)
        out, exit_code = "", 1
    else:
        sys.stdout.flush()
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
        out, exit_code = done.stdout.decode("utf-8", "replace"), done.returncode
        if exit_code != 0:
            _explain_failure()
    shell.user_ns["_exit_code"] = exit_code
    if getattr(shell, "system_raise_on_error", False) and exit_code != 0:
        raise subprocess.CalledProcessError(exit_code, cmd)
    return SList(out.splitlines()) if split else LSString(out)


@magics_class
class MachineScriptMagics(ScriptMagics):
    """`%%script PROGRAM` (and `%%bash`, `%%sh`, ...) with PROGRAM run inside the lab machine."""

    @magic_arguments.magic_arguments()
    @script_args
    @cell_magic("script")
    def shebang(self, line: str, cell: str) -> Any:
        """Run a cell with a program inside the lab machine, e.g. `%%script bash`."""
        parser = self.shebang.parser
        args, program = parser.parse_known_args(arg_split(line, posix=True))
        if not program:
            _tell(tr("Name the program that should run this cell, for example `%%script bash`."))
            return None
        try:
            host_argv = machine_argv(program)
        except MachineUnreachable as e:
            _tell(e)
            return None
        options = []
        for name in ("out", "err", "proc"):
            if getattr(args, name):
                options += [f"--{name}", getattr(args, name)]
        if args.bg:
            options.append("--bg")
        if not args.raise_error:
            options.append("--no-raise-error")
        host_line = shlex.join(options + host_argv)
        # IPython re-parses the line: make sure it reads back exactly the argv we built,
        # so an option-like word in it can never change what runs (or where).
        _, reread = parser.parse_known_args(arg_split(host_line, posix=True))
        if reread != host_argv:
            _tell(tr("This cell could not be sent to your lab machine; run it with `!` instead."))
            return None
        try:
            return super().shebang(host_line, cell)
        except subprocess.CalledProcessError as failed:
            # A command of the learner's that failed is theirs to read, not a Python traceback.
            _tell(tr("The cell's last command ended with exit status {status}.", status=failed.returncode))
            _explain_failure()
            return None


def load_ipython_extension(ip: Any) -> None:
    for name in ("system", "system_piped", "system_raw"):
        setattr(ip, name, MethodType(_system, ip))
    ip.getoutput = MethodType(_getoutput, ip)
    ip.register_magics(MachineScriptMagics)
    not_open.install(ip.user_ns)  # `lab` says what to do until the lab's first cell runs
