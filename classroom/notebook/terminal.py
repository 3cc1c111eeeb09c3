"""What a JupyterLab terminal runs: a root shell on the learner's lab machine.

    python -m classroom.notebook.terminal

It enters the machine of the lab the learner started last. In a lab with several machines it
asks which one first. The machine's name is in the prompt. When there is no machine to enter,
it says why and what to do, then waits for Enter: a terminal never falls back to a host shell.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable

from grader import i18n
from grader.i18n import N_, tr

# What the terminal says, in one place (English; said in the learner's language with tr).
TEXT = {
    "no_lab": N_("No lab is running yet. Open a lab's notebook and run its first cell (it starts your "
                 "machine), then open a new terminal."),
    "stopped": N_("Your machine {name} is not running. Run the first cell of the lab's notebook (or "
                  "`maillab lab start {lab}`), then open a new terminal."),
    "broken": N_("This terminal could not enter your machine: {why}"),
    "menu": N_("The lab {lab} has {count} machines:"),
    "ask": N_("Which one do you want a shell on? Type its number or name [1]: "),
    "unknown": N_("There is no machine {answer} here; type a number from 1 to {count}."),
    "enter": N_("Press Enter to close this terminal."),
}


def choose(machines: list[Any], lab_id: str, ask: Callable[[str], str] = input,
           say: Callable[[str], None] = print) -> Any:
    """The machine declaration the learner picks (the only one, without asking)."""
    if len(machines) == 1:
        return machines[0]
    say(tr(TEXT["menu"], lab=lab_id, count=len(machines)))
    for number, decl in enumerate(machines, 1):
        say(f"  {number}) {decl.name}  ({decl.hostname}.{decl.domain})")
    while True:
        answer = ask(tr(TEXT["ask"])).strip()
        if not answer:
            return machines[0]
        for number, decl in enumerate(machines, 1):
            if answer in (str(number), decl.name):
                return decl
        say(tr(TEXT["unknown"], answer=repr(answer), count=len(machines)))


def shell_argv(machine: Any, decl: Any) -> list[str]:
    """bash -l inside the machine; Debian's prompt shows `(name)` when the name is not the host name."""
    env = {} if decl.name == decl.hostname else {"debian_chroot": decl.name}
    return machine.enter_argv(["/bin/bash", "-l"], tty=True, env=env)


def main() -> int:
    from classroom.session import current_lab, open_session

    try:
        lab_id = current_lab()
        if lab_id is None:
            return _stop(tr(TEXT["no_lab"]))
        session = open_session(lab_id)
        decl = choose(list(session.lab.machines), lab_id)
        machine = session.machine(decl.name)
        if not machine.running():
            return _stop(tr(TEXT["stopped"], name=decl.name, lab=lab_id))
        argv = shell_argv(machine, decl)
    except (EOFError, KeyboardInterrupt):
        return 130
    except Exception as exc:  # one sentence, never a traceback in the learner's terminal
        return _stop(tr(TEXT["broken"], why=i18n.say(exc)))
    os.execvp(argv[0], argv)  # the shell replaces us: signals and the terminal go straight to it
    return 0  # not reached


def _stop(sentence: str) -> int:
    print(sentence, flush=True)
    try:
        input(tr(TEXT["enter"]))
    except (EOFError, KeyboardInterrupt):
        pass
    return 1


if __name__ == "__main__":
    sys.exit(main())
