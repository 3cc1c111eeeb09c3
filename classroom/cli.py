"""The `maillab` command. Exit codes are a contract: 0 all PASS, 1 a FAIL, 3 an ERROR, 2 usage."""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import traceback

from sandbox import Machine, SandboxError, all_machines, image, paths
from sandbox.network import all_networks

from grader import course
from grader.check import ChecksError
from grader.errors import MailLabError, UsageError
from .gradebook import GradebookError
from grader.i18n import N_, Msg, _, say, tr, translate
from grader.result import Status, pad, width
from .selftest import WORKERS as SELFTEST_WORKERS
from .session import LabSession, current_lab, current_learner, open_session

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3


# argparse's own words, in the learner's language: its error messages (as Python 3.11+ writes them)
# are read back into messages; a message not in this table stays as argparse wrote it.
ARGPARSE_ERRORS = [
    (re.compile(r"the following arguments are required: (?P<names>.+)"),
     N_("the following arguments are required: {names}")),
    (re.compile(r"unrecognized arguments: (?P<args>.+)"), N_("unrecognized arguments: {args}")),
    (re.compile(r"argument (?P<arg>.+?): invalid choice: (?P<value>.+) \(choose from (?P<choices>.+)\)"),
     N_("argument {arg}: invalid choice: {value} (choose from {choices})")),
    (re.compile(r"argument (?P<arg>.+?): invalid (?P<type>\w+) value: (?P<value>.+)"),
     N_("argument {arg}: invalid {type} value: {value}")),
    (re.compile(r"argument (?P<arg>.+?): expected one argument"), N_("argument {arg}: expected one argument")),
]


def _argparse_message(message: str) -> str:
    for pattern, msgid in ARGPARSE_ERRORS:
        found = pattern.fullmatch(message)
        if found:
            return Msg(msgid, found.groupdict())
    return message


class _Formatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, tr("usage: ") if prefix is None else prefix)


class Parser(argparse.ArgumentParser):
    """argparse, speaking the learner's language (built after the language is known)."""

    def __init__(self, *args, add_help: bool = True, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = tr("positional arguments")
        self._optionals.title = tr("options")
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help=tr("show this help message and exit"))

    def error(self, message: str):  # one plain line instead of a usage dump
        raise UsageError(_("{message} (see `{prog} --help`)", message=_argparse_message(message), prog=self.prog))


def build_parser() -> Parser:
    p = Parser(prog="maillab", description=tr("MailLab: a hands-on course on Linux mail servers."))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    up = sub.add_parser("up", help=tr("open the course in JupyterLab"))
    up.add_argument("--port", type=int, default=None)
    up.add_argument("--no-browser", action="store_true", help=tr("print the address instead of opening a browser"))
    up.add_argument("--lab", default=None, help=tr("open this lab's notebook first (default: the course home)"))
    up.add_argument("--workspace", default=None, help=tr("where your copies of the notebooks live (default: ~/maillab)"))
    up.add_argument("--lang", default=None, metavar="LANG", help=tr(
        "the course's language, kept for next time: en or zh (default: the last one chosen, else the locale)"))
    up.add_argument("--mode", choices=("guided", "challenge"), default=None, help=tr(
        "guided: each step's how-to shows at once; challenge: it stays closed until you ask (kept for next "
        "time; default: the last one chosen, else guided)"))

    img = sub.add_parser("image", help=tr("the lab image")).add_subparsers(dest="action", required=True, parser_class=Parser)
    build = img.add_parser("build", help=tr("build the lab image again (from sandbox/recipe/)"))
    build.add_argument("--if-missing", action="store_true", help=tr("only when the current recipe is not built yet"))

    lab = sub.add_parser("lab", help=tr("start or list labs")).add_subparsers(dest="action", required=True, parser_class=Parser)
    lab.add_parser("start", help=tr("start a lab's machines")).add_argument("lab")
    lab.add_parser("list", help=tr("list the labs"))
    new = lab.add_parser("new", help=tr("make a new lab folder with one complete small step to change into your own"))
    new.add_argument("lab", help=tr("the new lab's id, e.g. spam-defence"))
    new.add_argument("--title", default=None)
    lab.add_parser("lint", help=tr("find what a lab author forgot (promises, checks, solutions, check cells, translations)")).add_argument(
        "lab", nargs="?", default=None, help=tr("default: every lab"))

    for name, text in (("exec", N_("run a command inside a lab machine")),
                       ("shell", N_("open a root shell inside a lab machine"))):
        cmd = sub.add_parser(name, help=tr(text))
        cmd.add_argument("--machine", "-m", default=None)
        cmd.add_argument("--lab", default=None, help=tr("default: the lab started last"))
        if name == "exec":
            cmd.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD...")

    check = sub.add_parser("check", help=tr("check a step (or every step) of a lab"))
    check.add_argument("lab")
    check.add_argument("step", nargs="?")
    check.add_argument("--json", action="store_true")

    for name, text in (("solve", N_("apply the reference solution up to and including STEP")),
                       ("reset", N_("put the machines back to the start of STEP (default: the lab's start)"))):
        cmd = sub.add_parser(name, help=tr(text))
        cmd.add_argument("lab")
        cmd.add_argument("step", nargs="?")

    node = sub.add_parser("node", help=tr("stop, start, unplug or plug in a node of the lab network"))
    node.add_argument("action", choices=("list", *LabSession.NODE_ACTIONS))
    node.add_argument("node", nargs="?", help=tr("a node of the lab network (`maillab node list` names them)"))
    node.add_argument("--lab", default=None, help=tr("default: the lab started last"))

    sub.add_parser("status", help=tr("what is running and how far you are"))
    selftest = sub.add_parser("selftest", help=tr("prove every step's check can fail and pass"))
    selftest.add_argument("labs", nargs="*")
    selftest.add_argument("-j", "--jobs", type=int, default=None,
                          help=tr("how many steps to prove at once (default {n})", n=SELFTEST_WORKERS))
    down = sub.add_parser("down", help=tr("stop your lab machines (their files are kept)"))
    down.add_argument("--all", action="store_true", help=tr("every learner's machines (instructors)"))

    book = sub.add_parser("gradebook", help=tr("the grades (instructors)")).add_subparsers(
        dest="action", required=True, parser_class=Parser)
    show = book.add_parser("show", help=tr("each learner's steps: passed now, ever passed, attempts, hints"))
    show.add_argument("--learner", default=None)
    show.add_argument("--lab", default=None)
    export = book.add_parser("export", help=tr("the grades as CSV for Canvas, Moodle or a spreadsheet"))
    export.add_argument("--csv", action="store_true", required=True, help=tr("CSV (the only format so far)"))
    export.add_argument("--long", action="store_true", help=tr("one row per check of every attempt"))
    export.add_argument("--for", dest="target", choices=("plain", "canvas", "moodle"), default="plain",
                        help=tr("the identity columns the platform expects (default: plain)"))
    export.add_argument("--score", choices=("ever", "now", "own"), default="ever",
                        help=tr("a step scores once ever passed (default), only if it passes now, or only if "
                                "passed before its how-to was shown (own)"))
    export.add_argument("--lab", default=None, help=tr("only this lab"))
    export.add_argument("--output", "-o", default=None, help=tr("write to this file (default: standard output)"))

    fwd = sub.add_parser("forward", help=tr("let a mail client on this computer reach a port of your lab machine"))
    fwd.add_argument("port", type=int, help=tr("the machine's port, e.g. 25, 110 or 143"))
    fwd.add_argument("--listen", default=None, help=tr("127.0.0.1:LOCALPORT (default: 127.0.0.1:10000+PORT)"))
    fwd.add_argument("--machine", "-m", default=None)
    fwd.add_argument("--lab", default=None, help=tr("default: the lab started last"))

    from workshop.cli import add_parser as add_workshop_parser
    add_workshop_parser(sub, Parser)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"maillab: {say(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (MailLabError, SandboxError, ChecksError, GradebookError) as exc:
        print(f"maillab: {say(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("maillab: " + tr("interrupted."), file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of ours: one line for the user, the traceback in a log file
        log = paths.home() / "maillab-errors.log"
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a") as f:
                traceback.print_exc(file=f)
            said = tr("unexpected error: {error} (details in {log})", error=f"{type(exc).__name__}: {exc}", log=log)
        except OSError:
            said = tr("unexpected error: {error}", error=f"{type(exc).__name__}: {exc}")
        print(f"maillab: {said}", file=sys.stderr)
        return EXIT_ERROR


def _require_root() -> None:
    if os.geteuid() != 0:
        raise UsageError(_("MailLab runs lab machines and needs root: run it as root (or with sudo)."))


def _session(lab_id: str | None) -> LabSession:
    lab_id = lab_id or current_lab()
    if lab_id is None:
        raise UsageError(_("No lab is started yet: run `maillab lab start LAB` first (`maillab lab list` shows them)."))
    return open_session(lab_id)


def cmd_up(args) -> int:
    _require_root()
    from pathlib import Path

    from grader import i18n
    from .notebook.home import every_edition, home_name, lab_notebook_name
    from .notebook.server import serve
    from .notebook.workspace import link_lab_machines
    from .session import save_language

    lang = i18n.chosen(args.lang)
    if args.lang:
        save_language(lang)  # the CLI, the kernels and the next `maillab up` speak it too
    if args.mode:
        from grader.state import save_mode

        save_mode(args.mode)  # the notebooks' how-tos follow it
    i18n.use(lang)
    known = [lab.id for lab in course.all_labs()]
    first = open_session(args.lab or (current_lab() if current_lab() in known else known[0]))
    image.ensure_image(quiet=False)
    first.start(quiet=False)  # the notebook's first cell then finds the machine running
    workspace = Path(args.workspace).expanduser() if args.workspace else Path.home() / "maillab"
    workspace.mkdir(parents=True, exist_ok=True)
    # /etc/postfix and friends in the file browser: machines/LAB/NAME, one folder per lab machine.
    link_lab_machines(workspace, first.lab.id, [(decl.name, first.machine(decl.name)) for decl in first.lab.machines])
    old_link = workspace / "machine"  # one link re-pointed at whichever lab started last: gone
    if old_link.is_symlink():
        old_link.unlink()
    opened = lab_notebook_name(first.lab, lang) if args.lab else home_name(lang)
    return serve(workspace, every_edition(), open_path=opened,
                 port=args.port, open_browser=not args.no_browser, home=True)


def cmd_image(args) -> int:
    _require_root()
    if args.if_missing and image.is_built():
        return EXIT_PASS
    root = image.build(force=not args.if_missing)
    print(tr("The lab image is ready: {root}", root=root))
    return EXIT_PASS


def cmd_lab(args) -> int:
    if args.action == "new":
        from .scaffold import new_lab
        folder = new_lab(args.lab, args.title)
        print(tr("Made {folder}: lab.toml, checks.py, solve/ and both notebooks, with one step. "
                 "docs/AUTHORING.md tells what to change; `maillab lab lint {lab}` what is missing, "
                 "`maillab selftest {lab}` whether its checks can fail and pass.", folder=str(folder), lab=args.lab))
        return EXIT_PASS
    if args.action == "lint":
        from . import lint
        chosen = [course.find(args.lab)] if args.lab else course.all_labs()
        found = [problem for lab in chosen for problem in lint.problems(lab)]
        for problem in found:
            print(problem)
        if found:
            return EXIT_FAIL
        print(tr("Nothing to fix: every step of {labs} has a title, a promise, checks, a reference solution and a "
                 "check cell in every notebook, and every text its translations.",
                 labs=", ".join(lab.id for lab in chosen)))
        return EXIT_PASS
    if args.action == "list":
        for lab in course.all_labs():
            steps = ", ".join(s.id for s in lab.steps)
            print(f"{lab.number:02d}  {lab.id:<18} {tr(lab.title)}  [{steps}]")  # titles: in the labs' catalogs
        return EXIT_PASS
    _require_root()
    session = open_session(args.lab)
    session.start(quiet=False)
    names = ", ".join(f"{d.name} ({d.hostname}.{d.domain})" for d in session.lab.machines)
    print(tr("Lab {lab} is running: {names}. Enter it with `maillab shell`.", lab=session.lab.id, names=names))
    if session.lab.network is not None:
        others = ", ".join(f"{n.name} ({n.hostname}, {n.address})" for n in session.lab.network.nodes
                           if n.kind != "machine")
        print(tr("Its network: {nodes}. `maillab node list` shows them.", nodes=others))
    return EXIT_PASS


def _machine(args) -> Machine:
    session = _session(args.lab)
    session.require_started()
    return session.machine(args.machine)


def cmd_exec(args) -> int:
    _require_root()
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise UsageError(_("Say which command to run: `maillab exec -- postconf -n`."))
    machine = _machine(args)
    host_argv = machine.enter_argv(argv, tty=sys.stdin.isatty())
    return subprocess.call(host_argv)  # the host argv joins the machine's cgroup itself


def cmd_shell(args) -> int:
    _require_root()
    machine = _machine(args)
    host_argv = machine.enter_argv(["/bin/bash", "-l"], tty=True)
    os.execvp(host_argv[0], host_argv)  # the shell replaces us: signals and the terminal go straight to it


def cmd_check(args) -> int:
    _require_root()
    session = open_session(args.lab)
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
    session = open_session(args.lab)
    step = args.step or session.lab.steps[-1].id
    done = session.solve(step)
    print(tr("Applied the reference solution of: {steps}.", steps=", ".join(done)))
    return EXIT_PASS


def cmd_reset(args) -> int:
    _require_root()
    session = open_session(args.lab)
    session.reset(args.step, quiet=False)
    if args.step:
        print(tr("Lab {lab} is back to the start of step {step}.", lab=session.lab.id, step=args.step))
    else:
        print(tr("Lab {lab} is back to the start of the lab.", lab=session.lab.id))
    return EXIT_PASS


def cmd_node(args) -> int:
    _require_root()
    session = _session(args.lab)
    network = session.network()
    if network is None:
        raise UsageError(_("The lab {lab} has no lab network: it is one machine on its own.", lab=session.lab.id))
    if args.action == "list":
        session.require_started()
        states = session.node_states()
        for node in session.lab.network.nodes:
            state = states.get(node.name, "?")
            shown = tr(NODE_STATES[state]) if state in NODE_STATES else state
            print(f"{node.name:<10} {node.kind:<8} {node.address:<15} {node.hostname:<24} {shown}")
        return EXIT_PASS
    if not args.node:
        raise UsageError(_("Say which node to {action}: `maillab node {action} NODE` "
                           "(`maillab node list` names them).", action=args.action))
    print(session.node(args.node, args.action))
    return EXIT_PASS


def cmd_status(args) -> int:
    learner = current_learner()
    print(tr("Learner: {learner}", learner=learner))
    print(tr("Lab image: built") if image.is_built() else tr("Lab image: not built yet (`maillab image build`)"))
    current = current_lab(learner)
    print(tr("Current lab: {lab}", lab=current) if current else tr("Current lab: (none)"))
    for machine in all_machines():
        if not machine.name.startswith(learner + "--"):
            continue
        name = machine.name.split("--", 1)[1].replace("--", "/")
        running = machine.running()
        memory = machine.memory_usage()
        if running and memory:
            print("  " + tr("machine {name}: running, {mib} MiB", name=name, mib=f"{memory / 2**20:.0f}"))
        else:
            print("  " + (tr("machine {name}: running", name=name) if running
                          else tr("machine {name}: stopped", name=name)))
    for network in all_networks():
        if network.name.startswith(learner + "--"):
            name = network.name.split("--", 1)[1]
            print("  " + (tr("network {name}: up", name=name) if network.is_up()
                          else tr("network {name}: down", name=name)))
    for lab in course.all_labs():
        session = LabSession(lab, learner)
        progress = session.progress()
        passed = sum(1 for s in lab.steps if progress.get(s.id, {}).get("passed_now"))
        print("  " + tr("{lab} {passed}/{total} steps passed", lab=f"{lab.id:<18}", passed=passed,
                        total=len(lab.steps)))
    return EXIT_PASS


def cmd_selftest(args) -> int:
    _require_root()
    from .selftest import WORKERS, selftest_course

    chosen = [course.find(lab_id) for lab_id in args.labs] if args.labs else course.all_labs()
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(_("--jobs must be at least 1."))
    verdicts = selftest_course(chosen, report=lambda v: print(v, flush=True), workers=args.jobs or WORKERS)
    failed = [v for v in verdicts if not v.ok]
    # "selftest:" starts the last line whatever the language: bench/flaky reads it.
    print("selftest: " + tr("{passed} passed, {failed} failed", passed=len(verdicts) - len(failed),
                            failed=len(failed)))
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
    if networks:
        print(tr("Stopped {machines} machine(s) and {networks} lab network(s). Your files are kept: "
                 "`maillab lab start LAB` boots them again.", machines=len(stopped), networks=len(networks)))
    else:
        print(tr("Stopped {machines} machine(s). Your files are kept: `maillab lab start LAB` boots them again.",
                 machines=len(stopped)))
    return EXIT_PASS


def _gradebook():
    from .gradebook import is_database_url
    from .gradebooks import open_gradebook
    from .session import gradebook_path

    path = gradebook_path()
    if not is_database_url(path) and not path.exists():
        raise UsageError(_("There is no gradebook at {path} yet: grades appear after the first check.", path=str(path)))
    return open_gradebook(path)


def cmd_gradebook(args) -> int:
    from grader import i18n

    with i18n.speaking(i18n.instructors_language()):  # the instructor's language, not the learner's saved one
        return _gradebook_command(args)


def _gradebook_command(args) -> int:
    from . import export

    book = _gradebook()
    chosen = [course.find(args.lab)] if args.lab else course.all_labs()
    learner = getattr(args, "learner", None)
    if learner is not None and not book.has_learner(learner):
        known = ", ".join(book.learners())
        if known:
            raise UsageError(_("The gradebook has no learner called {learner}. Learners with grades: {known}.",
                               learner=repr(learner), known=known))
        raise UsageError(_("The gradebook has no learner called {learner}. Learners with grades: none yet.",
                           learner=repr(learner)))
    if args.action == "export":
        text = (export.long_csv(book, args.lab) if args.long
                else export.wide_csv(book, chosen, target=args.target, score=args.score))
        if args.output:
            from pathlib import Path

            Path(args.output).write_text(text, encoding="utf-8")
            print(tr("Wrote {path}.", path=args.output), file=sys.stderr)
        else:
            sys.stdout.write(text)
        return EXIT_PASS
    print(show_gradebook(book, chosen, learner))
    return EXIT_PASS


# `maillab node list`: each node's state in a word (sandbox.network's words are the keys).
NODE_STATES = {"up": N_("up"), "down": N_("down"), "stopped": N_("stopped"), "unplugged": N_("unplugged")}
# `maillab gradebook show`: its column headings, and the help a learner used (the gradebook's kinds are the keys).
GRADEBOOK_COLUMNS = (N_("learner"), N_("lab"), N_("step"), N_("now"), N_("ever"), N_("tries"), N_("hints"),
                     N_("first pass"), N_("help used"))
HELP_USED = {"guidance": N_("how-to {count}x"), "solve": N_("solve {count}x"), "skip": N_("skip {count}x"),
             "reset": N_("reset {count}x")}


def _rpad(text: str, columns: int) -> str:
    return " " * max(0, columns - width(text)) + text


def show_gradebook(book, chosen, learner: str | None = None) -> str:
    where = getattr(book, "where", book.path)
    people = [learner] if learner else book.learners()
    if not people:
        return tr("The gradebook at {path} has no grades yet.", path=where)
    records = {(r.learner, r.lab, r.step): r for r in book.records(learner=learner)}
    words = [tr(word) for word in GRADEBOOK_COLUMNS]
    # The English widths, wider where a heading in the learner's language needs it.
    w = [max(n, width(word)) for n, word in zip((16, 18, 16, 8, 5, 5, 5, 17), words)]
    header = (f"{pad(words[0], w[0])} {pad(words[1], w[1])} {pad(words[2], w[2])} {pad(words[3], w[3])} "
              f"{pad(words[4], w[4])} {_rpad(words[5], w[5])} {_rpad(words[6], w[6])}  {pad(words[7], w[7])} {words[8]}")
    lines = [tr("Gradebook {path}: {count} learner(s).", path=where, count=len(people)), header]
    yes, no, not_run = tr("yes"), tr("no"), tr("not run")
    for person in people:
        for lab in chosen:
            for step in lab.steps:
                r = records.get((person, lab.id, step.id))
                if r is None:
                    lines.append(f"{pad(person, w[0])} {pad(lab.id, w[1])} {pad(step.id, w[2])} {pad('-', w[3])} "
                                 f"{pad('-', w[4])} {0:>{w[5]}} {0:>{w[6]}}  -")
                    continue
                if r.passed_now:
                    now = Status.PASS.label
                elif r.last_status == "NOT_RUN":
                    now = not_run
                elif r.last_status in Status.__members__:
                    now = Status(r.last_status).label
                else:
                    now = r.last_status or "-"
                used = ", ".join(tr(HELP_USED[kind], count=n) for kind, n in (
                    ("guidance", r.guided), ("solve", r.solved), ("skip", r.skipped), ("reset", r.resets)) if n) or "-"
                first = r.first_pass_at[:16].replace("T", " ") if r.first_pass_at else "-"
                lines.append(f"{pad(person, w[0])} {pad(lab.id, w[1])} {pad(step.id, w[2])} {pad(now, w[3])} "
                             f"{pad(yes if r.ever_passed else no, w[4])} "
                             f"{r.attempts:>{w[5]}} {r.hints_shown:>{w[6]}}  {pad(first, w[7])} {used}")
    return "\n".join(lines)


def cmd_forward(args) -> int:
    _require_root()
    from .forward import route_for, serve

    session = _session(args.lab)
    session.require_started()
    route = route_for(session, args.machine, args.port, args.listen)
    print(tr("Forwarding {address} to {where}. Ctrl-C stops.", address=f"{route.listen[0]}:{route.listen[1]}",
             where=translate(route.describe)), flush=True)
    serve(route, log=lambda line: print(f"maillab forward: {translate(line)}", file=sys.stderr, flush=True))
    return EXIT_PASS


def cmd_workshop(args) -> int:
    from workshop.cli import run

    return run(args)


COMMANDS = {"gradebook": cmd_gradebook, "workshop": cmd_workshop, "up": cmd_up, "image": cmd_image, "lab": cmd_lab, "exec": cmd_exec, "shell": cmd_shell,
            "check": cmd_check, "solve": cmd_solve, "reset": cmd_reset, "node": cmd_node, "status": cmd_status,
            "selftest": cmd_selftest, "down": cmd_down, "forward": cmd_forward}


if __name__ == "__main__":
    sys.exit(main())
