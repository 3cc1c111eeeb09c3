"""The `maillab` command. Exit codes are a contract: 0 all PASS, 1 a FAIL, 3 an ERROR, 2 usage."""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import traceback

from sandbox import Machine, SandboxError, all_machines, cgroups, image, paths
from sandbox.network import all_networks

from . import lab as labs
from .check import ChecksError
from .errors import MailLabError, UsageError
from .gradebook import GradebookError
from .result import Status
from .session import LabSession, current_lab, current_learner, open_lab

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one plain line instead of a usage dump
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> Parser:
    p = Parser(prog="maillab", description="MailLab: a hands-on course on Linux mail servers.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    up = sub.add_parser("up", help="open the course in JupyterLab")
    up.add_argument("--port", type=int, default=None)
    up.add_argument("--no-browser", action="store_true", help="print the address instead of opening a browser")
    up.add_argument("--lab", default=None, help="open this lab's notebook first (default: the course home)")
    up.add_argument("--workspace", default=None, help="where your copies of the notebooks live (default: ~/maillab)")
    up.add_argument("--lang", default=None, metavar="LANG",
                    help="the course's language, kept for next time: en or zh (default: the last one chosen, else the locale)")

    img = sub.add_parser("image", help="the lab image").add_subparsers(dest="action", required=True, parser_class=Parser)
    build = img.add_parser("build", help="build the lab image again (from sandbox/recipe/)")
    build.add_argument("--if-missing", action="store_true", help="only when the current recipe is not built yet")

    lab = sub.add_parser("lab", help="start or list labs").add_subparsers(dest="action", required=True, parser_class=Parser)
    lab.add_parser("start", help="start a lab's machines").add_argument("lab")
    lab.add_parser("list", help="list the labs")

    for name, text in (("exec", "run a command inside a lab machine"), ("shell", "open a root shell inside a lab machine")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--machine", "-m", default=None)
        cmd.add_argument("--lab", default=None, help="default: the lab started last")
        if name == "exec":
            cmd.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD...")

    check = sub.add_parser("check", help="check a step (or every step) of a lab")
    check.add_argument("lab")
    check.add_argument("step", nargs="?")
    check.add_argument("--json", action="store_true")

    for name, text in (("solve", "apply the reference solution up to and including STEP"),
                       ("reset", "put the machines back to the start of STEP (default: the lab's start)")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("lab")
        cmd.add_argument("step", nargs="?")

    node = sub.add_parser("node", help="stop, start, unplug or plug in a node of the lab network")
    node.add_argument("action", choices=("list", *LabSession.NODE_ACTIONS))
    node.add_argument("node", nargs="?", help="a node of the lab network (`maillab node list` names them)")
    node.add_argument("--lab", default=None, help="default: the lab started last")

    sub.add_parser("status", help="what is running and how far you are")
    selftest = sub.add_parser("selftest", help="prove every step's check can fail and pass")
    selftest.add_argument("labs", nargs="*")
    down = sub.add_parser("down", help="stop your lab machines (their files are kept)")
    down.add_argument("--all", action="store_true", help="every learner's machines (instructors)")

    book = sub.add_parser("gradebook", help="the grades (instructors)").add_subparsers(
        dest="action", required=True, parser_class=Parser)
    show = book.add_parser("show", help="each learner's steps: passed now, ever passed, attempts, hints")
    show.add_argument("--learner", default=None)
    show.add_argument("--lab", default=None)
    export = book.add_parser("export", help="the grades as CSV for Canvas, Moodle or a spreadsheet")
    export.add_argument("--csv", action="store_true", required=True, help="CSV (the only format so far)")
    export.add_argument("--long", action="store_true", help="one row per check of every attempt")
    export.add_argument("--for", dest="target", choices=("plain", "canvas", "moodle"), default="plain",
                        help="the identity columns the platform expects (default: plain)")
    export.add_argument("--score", choices=("ever", "now"), default="ever",
                        help="a step scores once ever passed (default) or only if it passes now")
    export.add_argument("--lab", default=None, help="only this lab")
    export.add_argument("--output", "-o", default=None, help="write to this file (default: standard output)")

    fwd = sub.add_parser("forward", help="let a mail client on this computer reach a port of your lab machine")
    fwd.add_argument("port", type=int, help="the machine's port, e.g. 25, 110 or 143")
    fwd.add_argument("--listen", default=None, help="127.0.0.1:LOCALPORT (default: 127.0.0.1:10000+PORT)")
    fwd.add_argument("--machine", "-m", default=None)
    fwd.add_argument("--lab", default=None, help="default: the lab started last")

    from workshop.cli import add_parser as add_workshop_parser
    add_workshop_parser(sub, Parser)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"maillab: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (MailLabError, SandboxError, ChecksError, GradebookError) as exc:
        print(f"maillab: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("maillab: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of ours: one line for the user, the traceback in a log file
        log = paths.home() / "maillab-errors.log"
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a") as f:
                traceback.print_exc(file=f)
            where = f" (details in {log})"
        except OSError:
            where = ""
        print(f"maillab: unexpected error: {type(exc).__name__}: {exc}{where}", file=sys.stderr)
        return EXIT_ERROR


def _require_root() -> None:
    if os.geteuid() != 0:
        raise UsageError("MailLab runs lab machines and needs root: run it as root (or with sudo).")


def _session(lab_id: str | None) -> LabSession:
    lab_id = lab_id or current_lab()
    if lab_id is None:
        raise UsageError("No lab is started yet: run `maillab lab start LAB` first (`maillab lab list` shows them).")
    return open_lab(lab_id)


def cmd_up(args) -> int:
    _require_root()
    from pathlib import Path

    from . import i18n
    from .notebook.course import every_edition, home_name, notebook_name
    from .notebook.server import serve
    from .notebook.workspace import link_machine_root
    from .session import save_language

    lang = _language(args.lang)
    if args.lang:
        save_language(lang)  # the CLI, the kernels and the next `maillab up` speak it too
    i18n.use(lang)
    known = [lab.id for lab in labs.all_labs()]
    first = open_lab(args.lab or (current_lab() if current_lab() in known else known[0]))
    image.ensure_image(quiet=False)
    first.start(quiet=False)  # the notebook's first cell then finds the machine running
    workspace = Path(args.workspace).expanduser() if args.workspace else Path.home() / "maillab"
    workspace.mkdir(parents=True, exist_ok=True)
    link_machine_root(workspace, first.machine())  # /etc/postfix and friends in the file browser
    opened = notebook_name(first.lab, lang if first.lab.notebook_in(lang) != first.lab.notebook else None)
    return serve(workspace, every_edition(), open_path=opened if args.lab else home_name(lang),
                 port=args.port, open_browser=not args.no_browser, home=True)


def _language(chosen: str | None) -> str:
    """`--lang` checked against the editions there are; without it, the learner's language."""
    from . import i18n

    if chosen is None:
        return i18n.language()
    lang = i18n.normalize(chosen)
    if lang == i18n.DEFAULT and not chosen.lower().startswith(i18n.DEFAULT):
        known = ", ".join(i18n.available())
        raise UsageError(i18n._("The course has no {chosen!r} edition. Its languages are: {known}.",
                                chosen=chosen, known=known))
    return lang


def cmd_image(args) -> int:
    _require_root()
    if args.if_missing and image.is_built():
        return EXIT_PASS
    root = image.build(force=not args.if_missing)
    print(f"The lab image is ready: {root}")
    return EXIT_PASS


def cmd_lab(args) -> int:
    if args.action == "list":
        for lab in labs.all_labs():
            steps = ", ".join(s.id for s in lab.steps)
            print(f"{lab.number:02d}  {lab.id:<18} {lab.title}  [{steps}]")
        return EXIT_PASS
    _require_root()
    session = open_lab(args.lab)
    session.start(quiet=False)
    names = ", ".join(f"{d.name} ({d.hostname}.{d.domain})" for d in session.lab.machines)
    print(f"Lab {session.lab.id} is running: {names}. Enter it with `maillab shell`.")
    if session.lab.network is not None:
        others = ", ".join(f"{n.name} ({n.hostname}, {n.address})" for n in session.lab.network.nodes
                           if n.kind != "machine")
        print(f"Its network: {others}. `maillab node list` shows them.")
    return EXIT_PASS


def _machine(args) -> Machine:
    session = _session(args.lab)
    session.require_started()
    return session.machine(args.machine)


def cmd_exec(args) -> int:
    _require_root()
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise UsageError("Say which command to run: `maillab exec -- postconf -n`.")
    machine = _machine(args)
    host_argv = machine.enter_argv(argv, tty=sys.stdin.isatty())
    return subprocess.call(host_argv, preexec_fn=lambda: cgroups.join(machine.name))


def cmd_shell(args) -> int:
    _require_root()
    machine = _machine(args)
    host_argv = machine.enter_argv(["/bin/bash", "-l"], tty=True)
    cgroups.join(machine.name)
    os.execvp(host_argv[0], host_argv)  # the shell replaces us: signals and the terminal go straight to it


def cmd_check(args) -> int:
    _require_root()
    session = open_lab(args.lab)
    steps = [session.lab.step(args.step)] if args.step else list(session.lab.steps)
    session.require_started()
    results = [session.check(step.id) for step in steps]
    if args.json:
        payload = [r.to_dict() for r in results]
        print(json.dumps(payload[0] if args.step else payload, indent=2))
    else:
        print("\n\n".join(str(r) for r in results))
    statuses = {r.status for r in results}
    if Status.ERROR in statuses:
        return EXIT_ERROR
    if statuses - {Status.PASS}:
        return EXIT_FAIL
    return EXIT_PASS


def cmd_solve(args) -> int:
    _require_root()
    session = open_lab(args.lab)
    step = args.step or session.lab.steps[-1].id
    done = session.solve(step)
    print(f"Applied the reference solution of: {', '.join(done)}.")
    return EXIT_PASS


def cmd_reset(args) -> int:
    _require_root()
    session = open_lab(args.lab)
    session.reset(args.step, quiet=False)
    where = f"the start of step {args.step}" if args.step else "the start of the lab"
    print(f"Lab {session.lab.id} is back to {where}.")
    return EXIT_PASS


def cmd_node(args) -> int:
    _require_root()
    session = _session(args.lab)
    network = session.network()
    if network is None:
        raise UsageError(f"The lab {session.lab.id} has no lab network: it is one machine on its own.")
    if args.action == "list":
        session.require_started()
        states = session.node_states()
        for node in session.lab.network.nodes:
            print(f"{node.name:<10} {node.kind:<8} {node.address:<15} {node.hostname:<24} {states.get(node.name, '?')}")
        return EXIT_PASS
    if not args.node:
        raise UsageError(f"Say which node to {args.action}: `maillab node {args.action} NODE` "
                         "(`maillab node list` names them).")
    print(session.node(args.node, args.action))
    return EXIT_PASS


def cmd_status(args) -> int:
    learner = current_learner()
    print(f"Learner: {learner}")
    print(f"Lab image: {'built' if image.is_built() else 'not built yet (`maillab image build`)'}")
    print(f"Current lab: {current_lab(learner) or '(none)'}")
    for machine in all_machines():
        if not machine.name.startswith(learner + "--"):
            continue
        state = "running" if machine.running() else "stopped"
        memory = machine.memory_usage()
        extra = f", {memory / 2**20:.0f} MiB" if memory and state == "running" else ""
        print(f"  machine {machine.name.split('--', 1)[1].replace('--', '/')}: {state}{extra}")
    for network in all_networks():
        if network.name.startswith(learner + "--"):
            print(f"  network {network.name.split('--', 1)[1]}: {'up' if network.is_up() else 'down'}")
    for lab in labs.all_labs():
        session = LabSession(lab, learner)
        progress = session.progress()
        passed = sum(1 for s in lab.steps if progress.get(s.id, {}).get("passed_now"))
        print(f"  {lab.id:<18} {passed}/{len(lab.steps)} steps passed")
    return EXIT_PASS


def cmd_selftest(args) -> int:
    _require_root()
    from .selftest import selftest_lab

    chosen = [labs.find(lab_id) for lab_id in args.labs] if args.labs else labs.all_labs()
    verdicts = []
    for lab in chosen:
        verdicts += selftest_lab(lab, report=lambda v: print(v, flush=True))
    failed = [v for v in verdicts if not v.ok]
    print(f"selftest: {len(verdicts) - len(failed)} passed, {len(failed)} failed")
    return EXIT_FAIL if failed else EXIT_PASS


def cmd_down(args) -> int:
    _require_root()
    prefix = "" if args.all else current_learner() + "--"
    # A machine whose processes died still holds its mount: stop that too.
    stopped = [m for m in all_machines() if m.name.startswith(prefix) and (m.running() or os.path.ismount(m.root))]
    for machine in stopped:
        machine.stop()
    # Networks go after the machines that live in them.
    networks = [n for n in all_networks() if n.name.startswith(prefix) and n.is_up()]
    for network in networks:
        network.down()
    nets = f" and {len(networks)} lab network(s)" if networks else ""
    print(f"Stopped {len(stopped)} machine(s){nets}. Your files are kept: `maillab lab start LAB` boots them again.")
    return EXIT_PASS


def _gradebook():
    from .gradebook import Gradebook, is_database_url
    from .session import gradebook_path

    path = gradebook_path()
    if not is_database_url(path) and not path.exists():
        raise UsageError(f"There is no gradebook at {path} yet: grades appear after the first check.")
    return Gradebook(path)


def cmd_gradebook(args) -> int:
    from . import export

    book = _gradebook()
    chosen = [labs.find(args.lab)] if args.lab else labs.all_labs()
    learner = getattr(args, "learner", None)
    if learner is not None and not book.has_learner(learner):
        known = ", ".join(book.learners()) or "none yet"
        raise UsageError(f"The gradebook has no learner called {learner!r}. Learners with grades: {known}.")
    if args.action == "export":
        text = (export.long_csv(book, args.lab) if args.long
                else export.wide_csv(book, chosen, target=args.target, score=args.score))
        if args.output:
            from pathlib import Path

            Path(args.output).write_text(text, encoding="utf-8")
            print(f"Wrote {args.output}.", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return EXIT_PASS
    print(show_gradebook(book, chosen, learner))
    return EXIT_PASS


def show_gradebook(book, chosen, learner: str | None = None) -> str:
    people = [learner] if learner else book.learners()
    if not people:
        return f"The gradebook at {getattr(book, 'where', book.path)} has no grades yet."
    records = {(r.learner, r.lab, r.step): r for r in book.records(learner=learner)}
    header = f"{'learner':<16} {'lab':<18} {'step':<16} {'now':<8} {'ever':<5} {'tries':>5} {'hints':>5}  first pass        help used"
    lines = [f"Gradebook {getattr(book, 'where', book.path)}: {len(people)} learner(s).", header]
    for person in people:
        for lab in chosen:
            for step in lab.steps:
                r = records.get((person, lab.id, step.id))
                if r is None:
                    lines.append(f"{person:<16} {lab.id:<18} {step.id:<16} {'-':<8} {'-':<5} {0:>5} {0:>5}  -")
                    continue
                now = "PASS" if r.passed_now else (r.last_status or "-").replace("NOT_RUN", "not run")
                used = ", ".join(f"{label} {n}x" for label, n in (("solve", r.solved), ("skip", r.skipped),
                                                                   ("reset", r.resets)) if n) or "-"
                first = r.first_pass_at[:16].replace("T", " ") if r.first_pass_at else "-"
                lines.append(f"{person:<16} {lab.id:<18} {step.id:<16} {now:<8} {'yes' if r.ever_passed else 'no':<5} "
                             f"{r.attempts:>5} {r.hints_shown:>5}  {first:<17} {used}")
    return "\n".join(lines)


def cmd_forward(args) -> int:
    _require_root()
    from .forward import route_for, serve

    session = _session(args.lab)
    session.require_started()
    route = route_for(session, args.machine, args.port, args.listen)
    print(f"Forwarding {route.listen[0]}:{route.listen[1]} to {route.describe}. Ctrl-C stops.", flush=True)
    serve(route, log=lambda line: print(f"maillab forward: {line}", file=sys.stderr, flush=True))
    return EXIT_PASS


def cmd_workshop(args) -> int:
    from workshop.cli import run

    return run(args)


COMMANDS = {"gradebook": cmd_gradebook, "workshop": cmd_workshop, "up": cmd_up, "image": cmd_image, "lab": cmd_lab, "exec": cmd_exec, "shell": cmd_shell,
            "check": cmd_check, "solve": cmd_solve, "reset": cmd_reset, "node": cmd_node, "status": cmd_status,
            "selftest": cmd_selftest, "down": cmd_down, "forward": cmd_forward}


if __name__ == "__main__":
    sys.exit(main())
