"""What a lab notebook's cells call: `lab = open_lab("install-postfix")`, then `lab.check("install")`."""
from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from IPython import get_ipython
from IPython.display import HTML, display

from grader.i18n import N_, Msg, _, say, tr, translate
from sandbox.errors import MachineNotRunning

from . import session_thread, shell
from .not_open import LabNotReady
from .panel import CheckPanel, problem_message, problem_sentence, prose, shown, state_of, when_text
from .workspace import link_lab_machines, machine_folder

WORKSPACE_ENV = "MAILLAB_WORKSPACE"  # set by classroom.notebook.server for the server and its kernels
CHECK_CELL = re.compile(r"""\blab\.check\(\s*["']([a-z0-9-]+)["']""")
CHOOSES_ITS_MACHINE = "lab.use_machine("  # a cell that says where it runs is left there
_follow_hook: Any = None  # the pre_run_cell hook of the lab opened last in this kernel

# What the lab's header and notes say, in one place (English; shown in the learner's language with tr).
TEXT = {
    "progress": N_("{passed} of {total} steps passed"),
    "no_progress": N_("Progress is not available right now."),
    "progress_label": N_("Progress:"),
    "starting": N_("Starting your machine for {title}\u2026 this can take a few seconds."),
    "running": N_("your lab machine is running. `!commands`, `%%bash` cells and the Terminal run inside it."),
    "running_named": N_("your machine `{name}` is running. `!commands` and `%%bash` cells run inside it."),
    "files_here": N_("Its files are in the `{folder}` folder of the file browser."),
    "files_not_here": N_("Its files are not in the file browser: {problem}"),
    "solved": N_("<strong>Reference solution used</strong> for: {steps}. The gradebook notes that the "
                 "solution was used. Run the step's check to see the result."),
    "skipped": N_("<strong>Reference solution used</strong> for: {steps}, to skip to this step, without any "
                  "check. The gradebook notes that you skipped them; a step you had passed yourself stays yours."),
    "every_machine": N_("Each machine of this lab has its own folder: {folders}."),
    "now_on": N_("Now on {name}: the commands of this step run there."),
    "stopped_node": N_("{name} is stopped, so the command did not run there. `lab.node(\"{name}\", \"start\")` "
                       "starts it again; `lab.nodes()` shows which machines run."),
    "stopped_machine": N_("Your machine {name} is not running, so the command did not run. To start it again, "
                          "run the first cell of the lab."),
    "nothing_to_skip": N_("This is the lab's first step: there is nothing before it to skip."),
    "reset_done": N_("<strong>Reset</strong>: your machine is back to how it was at the start of {step}. "
                     "Changes made since then are gone."),
    "smtp_from": N_("SMTP from {who} to {server}:"),
    "received_by": N_("The newest messages {server} received, with its verdict:"),
    "received_none": N_("{server} has received no message yet."),
}
# The header's word for each step state (Gradebook.step_states); failed and reset steps are to do.
STEP_MARK = {"passed": ("\u2714", N_("{title} (passed, {when})")),
             "helped": ("\u2714", N_("{title} (passed with help, {when})")),
             "skipped": ("\u23ed", N_("{title} (skipped, {when})")),
             "solved": ("\u25d0", N_("{title} (solution used, {when})")),
             "todo": ("\u25cb", N_("{title} (to do)"))}
# The same without a time (an older grader service says only passed or not).
STEP_MARK_UNTIMED = {"passed": N_("{title} (passed)"), "helped": N_("{title} (passed with help)"),
                     "skipped": N_("{title} (skipped)"), "solved": N_("{title} (solution used)"),
                     "todo": N_("{title} (to do)")}
FOLLOW_SECONDS = 5.0  # how often an open lab notebook looks for news from elsewhere (another notebook, a shell)
PANELS_PER_STEP = 3  # the latest panels of a step that follow the gradebook (a re-run cell makes a new one)
# The lab network's table: its headings and the states of its nodes (sandbox Network.node_states).
NODE_HEADINGS = (N_("node"), N_("name"), N_("address"), N_("state"))
NODE_STATE = {"up": N_("up"), "down": N_("down"), "stopped": N_("stopped"), "unplugged": N_("unplugged")}
# What could not be done, when `lab.node(name, action)` fails.
NODE_DOING = {"stop": N_("stop {name}"), "start": N_("start {name}"), "unplug": N_("unplug {name}"),
              "plug": N_("plug {name}")}


class NotebookLab:
    """One lab session, seen from its notebook: check panels, solutions, resets and a progress bar."""

    def __init__(self, session: Any, *, workspace: Path | None = None):
        self.session = session
        self.workspace = workspace
        self.status = widgets.HTML("")
        self.progress_bar = widgets.IntProgress(min=0, max=max(1, len(session.lab.steps)),
                                                description=tr(TEXT["progress_label"]))
        self.progress_text = widgets.HTML("")
        self.header = widgets.VBox([self.status, widgets.HBox([self.progress_bar, self.progress_text])])
        self.header.add_class("maillab-lab-header")
        self.progress_text.add_class("maillab-progress-text")
        self._machine_name: str | None = None
        self._panels: dict[str, list[CheckPanel]] = {}
        self._last_progress: dict | None = None
        self._follower: Any = None

    # -- machines -------------------------------------------------------------------------
    @property
    def machine(self) -> Any:
        """The machine the notebook's shell escapes run in."""
        return shell.attached_machine()

    def start(self) -> None:
        """Start the lab's machines (idempotent) and send shell escapes to the default one."""
        title = f"<strong>{html.escape(shown(self.session.lab.title))}</strong>"
        self.status.value = f'<span role="status">{tr(TEXT["starting"], title=title)}</span>'
        try:
            session_thread.call(self.session.start)
            note = self._attach(self._machine_name) + self._every_folder()
        except Exception as exc:
            problem = problem_message(exc, _("start your lab machine"))
            self.status.value = (f'<p role="alert"><span aria-hidden="true">\u26a0</span> '
                                 f"{html.escape(str(translate(problem)))}</p>")
            raise LabNotReady(problem) from None
        self._show_running(note)
        self._follow_cells()
        self.refresh_progress()

    def use_machine(self, name: str | None = None) -> None:
        """Send shell escapes to another machine of this lab (its name in lab.toml; None: the first)."""
        try:
            note = self._attach(name)
        except Exception as exc:
            raise LabNotReady(problem_message(exc, _("switch to that machine"))) from None
        self._show_running(note)
        print(f"\u21c4 {tr(TEXT['now_on'], name=self.current_machine)}", flush=True)

    def _attach(self, name: str | None) -> str:
        """Point shell escapes at a machine and show every machine's files in its own folder
        (`machines/LAB/NAME`, never re-pointed); returns a note."""
        machine = session_thread.call(self.session.machine, name)
        ip = get_ipython()
        if ip is not None and "classroom.notebook.shell" not in ip.extension_manager.loaded:
            ip.extension_manager.load_extension("classroom.notebook.shell")  # e.g. a plain python3 kernel
        shell.use_machine(machine, unreachable=self._unreachable)
        self._machine_name = name
        self._remember_machine()
        if self.workspace is None:
            return ""
        linked = self._link_machines()
        current = self.current_machine
        if current not in linked:
            return f"<br>{html.escape(tr(TEXT['files_not_here'], problem=linked.get('', '')))}"
        return f" {prose(tr(TEXT['files_here'], folder=machine_folder(self.session.lab.id, current)))}"

    @property
    def current_machine(self) -> str:
        """The name (in lab.toml) of the machine the notebook's commands run on."""
        return self._machine_name or self.session.lab.machines[0].name

    def _link_machines(self) -> dict[str, Any]:
        """`machines/LAB/NAME` for each machine of the lab; the names linked ('' holds a problem)."""
        linked: dict[str, Any] = {}
        for decl in self.session.lab.machines:
            try:
                machine = session_thread.call(self.session.machine, decl.name)
                if getattr(machine, "served_files", False):  # a workshop's: the grader service shows its folder
                    linked[decl.name] = machine
                    continue
                link_lab_machines(self.workspace, self.session.lab.id, [(decl.name, machine)])
                linked[decl.name] = machine
            except Exception as exc:  # that machine's files are not shown; its shell escapes still work
                linked.setdefault("", problem_sentence(exc, _("show its files in the file browser")))
        return linked

    def _every_folder(self) -> str:
        """In a lab with several machines, a note naming each one's folder."""
        names = [decl.name for decl in self.session.lab.machines]
        if self.workspace is None or len(names) < 2:
            return ""
        folders = ", ".join(f"<code>{html.escape(machine_folder(self.session.lab.id, n))}</code>" for n in names)
        return f" {tr(TEXT['every_machine'], folders=folders)}"

    def _remember_machine(self) -> None:
        """A new terminal offers the machine the notebook works on first."""
        try:
            from grader.state import update_state

            update_state(self.session.learner, machine={"lab": self.session.lab.id, "name": self.current_machine})
        except Exception:
            pass  # e.g. a workshop's learner, whose state the grader service keeps

    def _unreachable(self, error: BaseException) -> Msg:
        """Why a command could not run on the attached machine, with its name in the lab."""
        name = self.current_machine
        if isinstance(error, MachineNotRunning) or "not running" in str(error):
            # One machine stopped in a running lab network (lab.node): start that node. All stopped
            # (`maillab down`): the lab's first cell starts everything again.
            one_node = getattr(self.session.lab, "network", None) is not None and self._lab_started()
            return Msg(TEXT["stopped_node" if one_node else "stopped_machine"], {"name": name})
        text = str(translate(error.args[0])) if len(error.args) == 1 else str(error)
        machine = shell.attached_machine()
        if machine is not None and getattr(machine, "name", ""):
            text = text.replace(machine.name, name)  # never the sandbox's own name (LEARNER--lab--NAME)
        return _("{problem} To start your machine again, run the first cell of the lab.", problem=text)

    def _lab_started(self) -> bool:
        try:
            return bool(session_thread.call(self.session.started))
        except Exception:
            return False

    # -- which machine each step uses --------------------------------------------------------
    def step_machine(self, step_id: str) -> str:
        """The machine a step's cells and terminal use (lab.toml `machine`, else the lab's first)."""
        lab = self.session.lab
        for step in lab.steps:
            if step.id == step_id:
                return getattr(step, "machine", "") or lab.machines[0].name
        return lab.machines[0].name

    def follow_step(self, step_id: str, *, always: bool = False) -> str:
        """Send commands to the step's machine; returns the sentence that says so ("" when nothing
        changed, unless `always` in a lab with several machines)."""
        name = self.step_machine(step_id)
        if name == self.current_machine and not (always and len(self.session.lab.machines) > 1):
            return ""
        if name != self.current_machine:
            self._show_running(self._attach(None if name == self.session.lab.machines[0].name else name))
        return tr(TEXT["now_on"], name=name)

    def _follow_note(self, step_id: str, *, always: bool = False) -> str:
        sentence = self.follow_step(step_id, always=always)
        return (f'<p class="maillab-machine" role="status"><span aria-hidden="true">\u21c4</span> '
                f"{prose(sentence)}</p>" if sentence else "")

    def cell_steps(self) -> dict[str, str]:
        """Cell id -> step, from the lab's notebooks: a step's cells run up to its check cell
        (`lab.check("STEP")`); the next step's begin after it. A cell calling lab.use_machine is
        left out: it says itself where it runs."""
        folder = getattr(self.session.lab, "dir", None)
        steps = [s.id for s in self.session.lab.steps]
        found: dict[str, str] = {}
        if folder is None or not steps:
            return found
        for path in sorted(Path(folder).glob("lab*.ipynb")):
            try:
                cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            except (OSError, ValueError, KeyError):
                continue
            at = 0
            for cell in cells:
                source = "".join(cell.get("source", ""))
                if cell.get("id") and cell.get("cell_type") == "code" and CHOOSES_ITS_MACHINE not in source:
                    found[cell["id"]] = steps[at]
                for checked in CHECK_CELL.findall(source):
                    if checked in steps and steps.index(checked) >= at:
                        at = min(steps.index(checked) + 1, len(steps) - 1)
        return found

    def _follow_cells(self) -> None:
        """Each cell of a step runs on the step's machine (IPython's pre_run_cell event)."""
        global _follow_hook
        ip = get_ipython()
        if ip is None:
            return
        if _follow_hook is not None:
            try:
                ip.events.unregister("pre_run_cell", _follow_hook)
            except ValueError:
                pass
        steps = self.cell_steps()

        def follow(info: Any = None) -> None:
            step = steps.get(getattr(info, "cell_id", None) or "")
            if step is None:
                return
            try:
                sentence = self.follow_step(step)
            except Exception as exc:
                sentence = problem_sentence(exc, _("switch to that machine"))
            if sentence:
                print(f"\u21c4 {sentence}", flush=True)

        _follow_hook = follow
        ip.events.register("pre_run_cell", follow)

    def _show_running(self, note: str) -> None:
        if len(self.session.lab.machines) < 2:  # the lab's only machine: where a Terminal goes
            where = prose(tr(TEXT["running"]))
        else:
            where = prose(tr(TEXT["running_named"], name=self.current_machine))
        self.status.value = (f'<span aria-hidden="true">\u2714</span> '
                             f"<strong>{html.escape(shown(self.session.lab.title))}</strong>: {where}{note}")

    # -- steps ----------------------------------------------------------------------------
    def panel(self, step_id: str) -> CheckPanel:
        """A Check panel for a step, showing its last result (nothing runs until Check is pressed),
        with "Reset this step" and "Skip to here"."""
        panel = CheckPanel(self.session, step_id, on_reset=self.reset_step, on_skip=self.skip_to)
        panel.on_result(lambda _result: self.refresh_progress())
        panels = self._panels.setdefault(step_id, [])
        panels.append(panel)
        del panels[:-PANELS_PER_STEP]
        self._show_states(self._progress_or_none(), [panel])
        return panel

    def check(self, step_id: str) -> None:
        """Check a step now: shows its panel, which shows the result when the check is done.

        Returns nothing, so the result is drawn once (a StepResult would draw itself again)."""
        panel = self.panel(step_id)
        display(panel)
        pending = panel.check()
        if pending is not None:
            pending.result()

    def how(self, step_id: str) -> None:
        """The step's how-to, to read and type: at once in guided mode, behind "Show me how" in
        challenge mode. The gradebook notes each time it is shown."""
        from .howto import HowTo

        HowTo(self.session, step_id, on_skip=self._skip_and_refresh).show()

    def _skip_and_refresh(self, step_id: str) -> str:
        note = self.skip_to(step_id)
        self.refresh_progress()
        return note

    def solve(self, step_id: str) -> None:
        """Apply the reference solution up to this step, and say so where the learner can see it."""
        done = self._call(self.session.solve, step_id, doing=_("apply the reference solution"))
        display(HTML(self._solved_note(done or [step_id])))
        self.refresh_progress()

    def skip_to(self, step_id: str) -> str:
        """Apply the reference solutions of the steps before `step_id`; returns the note to show."""
        index = [s.id for s in self.session.lab.steps].index(step_id)
        if index == 0:
            return f'<p class="maillab-solved">{tr(TEXT["nothing_to_skip"])}</p>'
        if hasattr(self.session, "skip_to"):  # noted as skipped, not as the solution used
            done = session_thread.call(self.session.skip_to, step_id)
            return self._solved_note(done, TEXT["skipped"]) + self._follow_note(step_id, always=True)
        done = session_thread.call(self.session.solve, self.session.lab.steps[index - 1].id)
        return self._solved_note(done) + self._follow_note(step_id, always=True)

    def skip(self, step_id: str) -> None:
        """Skip to here from a cell: the reference solutions of the steps before `step_id`, no check."""
        note = self._call(self.skip_to, step_id, doing=_("apply the reference solutions"))
        display(HTML(note))
        self.refresh_progress()

    def _solved_note(self, done: list[str], text: str = TEXT["solved"]) -> str:
        steps = ", ".join(self._title(s) for s in done)
        return ('<p class="maillab-solved"><span aria-hidden="true">\u2139</span> '
                f'{tr(text, steps=html.escape(steps))}</p>')

    def reset(self, step_id: str) -> None:
        """Put the lab's machines back to how they were at the start of this step."""
        try:
            note = self.reset_step(step_id)
        except LabNotReady:
            raise
        except Exception as exc:
            raise LabNotReady(problem_message(exc, _("reset this step"))) from None
        display(HTML(note))
        self.refresh_progress()

    def reset_step(self, step_id: str) -> str:
        """Reset to the start of `step_id` and re-attach the machine; returns the note to show."""
        session_thread.call(self.session.reset, step_id)
        name = self.step_machine(step_id)
        try:
            note = self._attach(None if name == self.session.lab.machines[0].name else name)
        except Exception as exc:
            raise LabNotReady(problem_message(exc, _("reach your machine after the reset"))) from None
        self._show_running(note)
        return (f'<p class="maillab-reset"><span aria-hidden="true">\u21ba</span> '
                f'{tr(TEXT["reset_done"], step=html.escape(self._title(step_id)))}{note}</p>'
                + self._follow_note(step_id, always=True))

    # -- the mail-flow picture ----------------------------------------------------------------
    def mailflow(self, message_id: str | None = None) -> None:
        """Draw the journey of a message (by Message-Id, or the last one you sent) from the mail
        logs of this lab's machines: the attached machine's log first, then the others'."""
        from grader.mailflow import NoMessage, journey_html, trace

        try:
            logs = self._call(self._mail_logs, doing=_("read the mail log"))
            picture = journey_html(trace(logs, message_id))
        except NoMessage as exc:
            picture = f'<p class="maillab-mailflow-none"><span aria-hidden="true">\u2139</span> {prose(say(exc))}</p>'
        except LabNotReady:
            raise
        except Exception as exc:
            raise LabNotReady(problem_message(exc, _("draw the mail flow"))) from None
        display(HTML(picture))

    def _mail_logs(self) -> list[tuple[str, str]]:
        """Each machine's mail log since the lab's start (its starting state's lines left out), the
        machine the learner works on first."""
        if not hasattr(self.session, "host"):
            # In a workshop the grader service reads the logs of the learner's machines.
            return [(str(name), str(text)) for name, text in self.session.mail_logs(self._machine_name)]
        from grader.mailflow import lab_mail_logs

        return lab_mail_logs(self.session, self._machine_name)

    # -- faults on demand (labs with a network) ----------------------------------------------------
    def node(self, name: str, action: str) -> None:
        """Stop or start a node of the lab network, or unplug it and plug it in again:
        `lab.node("mx1", "stop")` (connections refused), `lab.node("mx1", "unplug")` (a silent host)."""
        doing = Msg(NODE_DOING[action], {"name": name}) if action in NODE_DOING else f"{action} {name}"
        sentence = self._call(self.session.node, name, action, doing=doing)
        display(HTML(f'<p class="maillab-node" role="status"><span aria-hidden="true">\u21c4</span> '
                     f"{html.escape(shown(sentence))}</p>"))

    def nodes(self) -> None:
        """The lab network's nodes and their state: up, stopped, unplugged."""
        states = self._call(self.session.node_states, doing=_("read the state of the lab network"))
        if self.session.lab.network is None:
            raise LabNotReady(_("The lab {lab} has no lab network.", lab=self.session.lab.id))
        rows = "".join(f"<tr><td>{html.escape(n.name)}</td><td>{html.escape(n.hostname)}</td>"
                       f"<td>{n.address}</td><td>{html.escape(self._state_word(states.get(n.name, '?')))}</td></tr>"
                       for n in self.session.lab.network.nodes)
        headings = "".join(f"<th>{html.escape(tr(h))}</th>" for h in NODE_HEADINGS)
        display(HTML(f'<table class="maillab-nodes"><tr>{headings}</tr>{rows}</table>'))

    @staticmethod
    def _state_word(state: str) -> str:
        return tr(NODE_STATE[state]) if state in NODE_STATE else state

    def last_result(self, step_id: str) -> Any:
        return session_thread.call(self.session.last_result, step_id)

    # -- progress -------------------------------------------------------------------------
    def follow(self, every: float = FOLLOW_SECONDS) -> None:
        """Keep the header and panels current when the gradebook changes elsewhere (the lab's other
        edition, `maillab check` in a shell, an instructor's reset): a look every `every` seconds,
        a redraw only when something changed. Ends when the header is closed, or with stop_following()."""
        import threading

        if self._follower is not None:
            return
        stop = self._follower = threading.Event()

        def run() -> None:
            while not stop.wait(every):
                if self.header.comm is None:
                    return
                try:
                    progress = session_thread.submit(self.session.progress).result(timeout=120)
                except Exception:
                    continue
                if progress != self._last_progress:
                    session_thread.submit(self.refresh_progress)

        threading.Thread(target=run, name="maillab-follow", daemon=True).start()

    def stop_following(self) -> None:
        if self._follower is not None:
            self._follower.set()
            self._follower = None

    def _progress_or_none(self) -> dict | None:
        try:
            return session_thread.call(self.session.progress)
        except Exception:
            return None

    def refresh_progress(self) -> None:
        """The header and every panel of this notebook, from the gradebook (one read): after a
        check, skip, solve or reset in any cell."""
        progress = self._progress_or_none()
        if progress is None:
            self.progress_text.value = tr(TEXT["no_progress"])
            return
        self._last_progress = progress
        steps = list(self.session.lab.steps)
        states = [state_of(progress.get(s.id)) for s in steps]
        passed = sum(state in ("passed", "helped") for state, _at in states)
        self.progress_bar.value = passed
        marks = []
        for step, (state, at) in zip(steps, states):
            state = state if state in STEP_MARK else "todo"
            icon, words = STEP_MARK[state]
            when = when_text(at)
            text = tr(words if when else STEP_MARK_UNTIMED[state], title=shown(step.title), when=when)
            marks.append(f'<span class="maillab-mark maillab-state-{state}">'
                         f'<span aria-hidden="true">{icon}</span> {html.escape(text)}</span>')
        self.progress_text.value = (f'<span class="maillab-progress">'
                                    f'{html.escape(tr(TEXT["progress"], passed=passed, total=len(steps)))}'
                                    "</span>: " + " \u00b7 ".join(marks))
        self._show_states(progress, [p for panels in self._panels.values() for p in panels])

    @staticmethod
    def _show_states(progress: dict | None, panels: list[CheckPanel]) -> None:
        if progress is None:
            return
        for panel in panels:
            try:
                panel.show_state(progress.get(panel.step_id))
            except Exception:
                pass  # a panel that cannot redraw keeps what it showed

    def _title(self, step_id: str) -> str:
        for step in self.session.lab.steps:
            if step.id == step_id:
                return tr("step \u201c{title}\u201d", title=shown(step.title))
        return tr("step {step}", step=step_id)

    def _call(self, fn: Any, *args: Any, doing: str) -> Any:
        try:
            return session_thread.call(fn, *args)
        except Exception as exc:
            raise LabNotReady(problem_message(exc, doing)) from None

    def __repr__(self) -> str:
        return f"<MailLab lab {self.session.lab.id}>"

    # -- the outside client's view (labs with a network) ------------------------------------------
    def outside_smtp(self, to: str | list[str], server: str = "192.0.2.10", *, mail_from: str = "friend@client.example",
                     message: str | None = None, from_node: str = "client", helo: str | None = None,
                     greet: bool = True) -> None:
        """Speak SMTP to `server` from the outside client (203.0.113.10, or another node) and show
        the conversation: `lab.outside_smtp("alice@example.test")` stops before DATA; with
        `message="Hello"` the message is sent too. `helo` is the name the client greets with (its
        own host name by default); `greet=False` sends MAIL FROM without any HELO or EHLO."""
        import uuid
        from email.utils import formatdate

        network = self.session.lab.network
        if network is None:
            raise LabNotReady(_("The lab {lab} has no lab network, so it has no outside client.",
                                lab=self.session.lab.id))
        if not hasattr(self.session, "host"):
            raise LabNotReady(_("The outside client's view is not available in a workshop: use swaks from a machine."))
        try:
            node = network.node(from_node)
        except Exception:
            raise LabNotReady(_("The lab network has no node called {node}.", node=repr(from_node))) from None
        rcpts = [to] if isinstance(to, str) else list(to)
        data = None
        if message is not None:
            data = (f"From: {mail_from}\r\nTo: {', '.join(rcpts)}\r\nSubject: Sent from {node.hostname}\r\n"
                    f"Date: {formatdate(usegmt=True)}\r\nMessage-Id: <{uuid.uuid4().hex}@{node.hostname}>\r\n"
                    f"\r\n{message}\r\n")
        ehlo = (helo or node.hostname or "client.example") if greet else None
        talk = self._call(lambda: self.session.host().world.converse(
            server, from_node=from_node, ehlo=ehlo, mail_from=mail_from, rcpts=rcpts, data=data, timeout=10),
            doing=_("talk SMTP to {server}", server=server))
        who = f"{node.hostname} ({node.address})"
        said = tr(TEXT["smtp_from"], who=who, server=server)
        display(HTML(f'<p class="maillab-smtp">{html.escape(said)}</p>'
                     f'<pre class="maillab-smtp">{html.escape(talk.describe())}</pre>'))

    def received(self, server: str = "mx1", count: int = 1) -> None:
        """Show the newest `count` messages a remote mail server of the lab received: sender,
        recipients, subject and, for a server that verifies senders, its SPF, DKIM and DMARC verdict."""
        if not hasattr(self.session, "host"):
            raise LabNotReady(_("What the lab's remote servers received is not shown in a workshop."))
        network = self.session.lab.network
        if network is None or not any(n.name == server and n.kind == "server" for n in network.nodes):
            raise LabNotReady(_("The lab network has no mail server called {server}.", server=repr(server)))
        messages = self._call(lambda: self.session.host().world.received(server),
                              doing=_("read what {server} received", server=server))
        if not messages:
            display(HTML(f'<p class="maillab-smtp">{html.escape(tr(TEXT["received_none"], server=server))}</p>'))
            return
        newest = sorted(messages, key=lambda m: m.received, reverse=True)[:max(1, count)]
        lines = [describe_received(m) for m in newest]
        display(HTML(f'<p class="maillab-smtp">{html.escape(tr(TEXT["received_by"], server=server))}</p>'
                     f'<pre class="maillab-smtp">{html.escape(chr(10).join(lines))}</pre>'))


def describe_received(message: Any) -> str:
    """A message a remote server received, in a few lines: when, envelope, subject, verdicts."""
    lines = [f"{message.received[:19].replace('T', ' ')}  from <{message.mail_from}> to "
             f"{', '.join('<' + r + '>' for r in message.rcpt_tos)}",
             f"  Subject: {message.subject or ''}"]
    verdicts = getattr(message, "verdicts", None) or {}
    for kind in ("spf", "dkim", "dmarc"):
        verdict = verdicts.get(kind)
        if isinstance(verdict, dict):
            extra = ", ".join(f"{key}={verdict[key]}" for key in ("domain", "selector", "policy") if verdict.get(key))
            reason = verdict.get("reason") or verdict.get("explanation") or ""
            detail = "; ".join(part for part in (extra, reason) if part)
            lines.append(f"  {kind}={verdict.get('result', '?')}" + (f" ({detail})" if detail else ""))
    return "\n".join(lines)


def open_lab(lab_id: str, learner: str | None = None, *, workspace: Path | None = None,
             lang: str | None = None) -> NotebookLab:
    """Open a lab in this notebook: start its machine, attach shell escapes, show a status line.
    `lang`: the language of this notebook's edition ("zh"); the kernel then speaks it (panels,
    checks, hints). Default: the learner's language (`maillab up --lang`, else the locale)."""
    from grader import i18n
    from classroom.session import open_session  # imported late: the kernel starts faster

    if lang is not None:
        i18n.use(lang)

    if workspace is None and os.environ.get(WORKSPACE_ENV):
        workspace = Path(os.environ[WORKSPACE_ENV])
    try:
        session = session_thread.call(open_session, lab_id, learner)
    except Exception as exc:
        raise LabNotReady(problem_sentence(exc, i18n._("open the lab {lab}", lab=lab_id))) from None
    lab = NotebookLab(session, workspace=workspace)
    display(lab.header)
    lab.start()
    lab.follow()
    return lab
