"""What a JupyterLab terminal runs: a root shell on the learner's lab machine.

    python -m classroom.notebook.terminal

It enters the machine of the lab the learner started last. In a lab with several machines it
asks which one first, offering the machine the notebook's current step works on. The tab's title
and the prompt name the machine. When there is no machine to enter, it says why and what to do,
then waits for Enter: a terminal never falls back to a host shell.

The shell runs as a child: when its machine is stopped (`maillab down`, `lab.node(NAME, "stop")`)
or reset, the tab stays with its scrollback, says what happened, and connects again on Enter.
When the learner ends the shell themselves (`exit`), the terminal ends.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any, Callable

from grader import i18n
from grader.i18n import N_, tr

# What the terminal says, in one place (English; said in the learner's language with tr).
TEXT = {
    "no_lab": N_("No lab is running yet. Open a lab's notebook and run its first cell (it starts your "
                 "machine), then open a new terminal."),
    "stopped": N_("Your machine {name} is not running. Run the first cell of the lab's notebook (or "
                  "`maillab lab start {lab}`), then press Enter here to connect."),
    "broken": N_("This terminal could not enter your machine: {why}"),
    "menu": N_("The lab {lab} has {count} machines:"),
    "ask": N_("Which one do you want a shell on? Type its number or name [{default}]: "),
    "unknown": N_("There is no machine {answer} here; type a number from 1 to {count}."),
    "enter": N_("Press Enter to close this terminal."),
    "was_stopped": N_("{name} was stopped, and this shell with it. Start the lab again (run the first cell of its "
                      "notebook)."),
    "was_reset": N_("{name} was reset: this shell ended with the old machine."),
    "reconnect": N_("Press Enter to connect to {name} again (Ctrl-D closes this terminal). "),
    "title_stopped": N_("{name}: stopped"),
    "title_reset": N_("{name}: reset"),
}
SETTLE = 3.0  # seconds to tell a machine being reset (destroyed, then made again) from one stopped


def choose(machines: list[Any], lab_id: str, ask: Callable[[str], str] = input,
           say: Callable[[str], None] = print, default: str | None = None) -> Any:
    """The machine declaration the learner picks (the only one, without asking). `default`: the
    machine Enter picks (the one the notebook works on), else the first."""
    if len(machines) == 1:
        return machines[0]
    first = next((number for number, decl in enumerate(machines, 1) if decl.name == default), 1)
    say(tr(TEXT["menu"], lab=lab_id, count=len(machines)))
    for number, decl in enumerate(machines, 1):
        say(f"  {number}) {decl.name}  ({decl.hostname}.{decl.domain})")
    while True:
        answer = ask(tr(TEXT["ask"], default=first)).strip()
        if not answer:
            return machines[first - 1]
        for number, decl in enumerate(machines, 1):
            if answer in (str(number), decl.name):
                return decl
        say(tr(TEXT["unknown"], answer=repr(answer), count=len(machines)))


def shell_argv(machine: Any, decl: Any) -> list[str]:
    """bash -l inside the machine; Debian's prompt shows `(name)` when the name is not the host name."""
    env = {} if decl.name == decl.hostname else {"debian_chroot": decl.name}
    return machine.enter_argv(["/bin/bash", "-l"], tty=True, env=env)


def title(text: str) -> str:
    """The escape sequence that names the terminal's tab (xterm's OSC 0; JupyterLab shows it)."""
    return "\033]0;" + "".join(c for c in text if c.isprintable()) + "\007"


def what_happened(machine: Any, made: str | None, *, settle: float = SETTLE,
                  sleep: Callable[[float], None] = time.sleep) -> str | None:
    """After the shell ended: "reset" (a new machine of that name, or one being made), "stopped",
    or None (the machine runs on: the learner ended the shell)."""
    deadline = time.monotonic() + settle
    while True:
        if getattr(machine, "made", None) != made:
            return "reset"
        if machine.running():
            return None
        if time.monotonic() >= deadline:
            return "stopped"
        sleep(0.1)


def attend(session: Any, decl: Any, *, run: Callable[[list[str]], int] | None = None,
           ask: Callable[[str], str] = input, say: Callable[[str], None] = print,
           settle: float = SETTLE) -> int:
    """Keep a shell on the machine `decl` for as long as the terminal is open."""
    run = run or _run_shell
    lab_id = session.lab.id
    name = decl.name
    while True:
        machine = session.machine(name)
        if not machine.running():
            _say_title(say, tr(TEXT["title_stopped"], name=name))
            say(tr(TEXT["stopped"], name=name, lab=lab_id))
            if not _wait_for_enter(ask, name):
                return 1
            continue
        made = getattr(machine, "made", None)
        _say_title(say, f"{name} \u00b7 {lab_id}")
        code = run(shell_argv(machine, decl))
        happened = what_happened(machine, made, settle=settle)
        if happened is None:
            return code
        _say_title(say, tr(TEXT[f"title_{happened}"], name=name))
        say("\r\n" + tr(TEXT[f"was_{happened}"], name=name))
        if not _wait_for_enter(ask, name):
            return code


def _say_title(say: Callable[[str], None], text: str) -> None:
    if say is print:
        sys.stdout.write(title(text))
        sys.stdout.flush()


def _wait_for_enter(ask: Callable[[str], str], name: str) -> bool:
    try:
        ask(tr(TEXT["reconnect"], name=name))
        return True
    except (EOFError, KeyboardInterrupt):
        return False


_child: subprocess.Popen | None = None


def _run_shell(argv: list[str]) -> int:
    """Run the shell (enter.py relays the terminal to it, in raw mode) and give the terminal back as
    it was, even when the machine's end killed the relay before it could."""
    global _child
    saved = None
    try:
        import termios

        saved = termios.tcgetattr(0) if os.isatty(0) else None
    except Exception:
        saved = None
    try:
        _child = subprocess.Popen(argv)
        return _child.wait()
    finally:
        _child = None
        if saved is not None:
            import termios

            try:
                termios.tcsetattr(0, termios.TCSANOW, saved)
            except Exception:
                pass


def _end(number: int, _frame: Any) -> None:
    """The tab was closed (terminado's SIGHUP) or the server stops: the shell goes too."""
    child = _child
    if child is not None and child.poll() is None:
        try:
            child.send_signal(signal.SIGHUP)
            child.wait(timeout=5)
        except Exception:
            child.kill()
    os._exit(128 + number)


def main() -> int:
    from classroom.session import current_lab, open_session
    from grader.state import read_state

    for number in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(number, _end)
    try:
        lab_id = current_lab()
        if lab_id is None:
            return _stop(tr(TEXT["no_lab"]))
        session = open_session(lab_id)
        remembered = read_state().get("machine")
        default = remembered.get("name") if isinstance(remembered, dict) and remembered.get("lab") == lab_id else None
        decl = choose(list(session.lab.machines), lab_id, default=default)
    except (EOFError, KeyboardInterrupt):
        return 130
    except Exception as exc:  # one sentence, never a traceback in the learner's terminal
        return _stop(tr(TEXT["broken"], why=i18n.say(exc)))
    try:
        return attend(session, decl)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        return _stop(tr(TEXT["broken"], why=i18n.say(exc)))


def _stop(sentence: str) -> int:
    print(sentence, flush=True)
    try:
        input(tr(TEXT["enter"]))
    except (EOFError, KeyboardInterrupt):
        pass
    return 1


if __name__ == "__main__":
    sys.exit(main())
