"""One learner working on one lab: their machines, checks, reference solutions and resets."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from importlib.metadata import entry_points
from pathlib import Path

from grader import course
from grader.backends import MachineBackend
from grader.check import checks_of
from grader.errors import MailLabError, UsageError
from grader.host import Host
from grader.i18n import _, say
from grader.course import Lab
from grader.result import StepResult
from grader.runner import STEP_DEADLINE
from grader.state import current_lab, current_learner, save_language, saved_language, update_state
from sandbox import Machine, SandboxError, paths
from sandbox.network import Network

from . import layers
from .gradebook import Gradebook
from .gradebooks import open_gradebook
from .isolated import run_isolated

__all__ = ["LabSession", "open_session", "gradebook_path", "current_lab", "current_learner", "save_language",
           "saved_language"]


def gradebook_path() -> Path:
    return Path(os.environ.get("MAILLAB_GRADEBOOK", paths.home() / "gradebook.sqlite"))



class LabSession:
    def __init__(self, lab: Lab, learner: str | None = None, *, record: bool = True,
                 drawn: tuple[str, ...] | None = None):
        self.lab = lab
        self.learner = learner or current_learner()
        self.record = record
        self._gradebook: Gradebook | None = None
        # The learner's own copy of a lab made per learner (its seed and drawn faults); None: everyone's.
        self.variant = course.variant_for(lab, self.learner, drawn)

    @property
    def drawn(self) -> tuple[str, ...]:
        """The faults of the lab's pool this learner's machines were given (none in most labs)."""
        return self.variant.drawn if self.variant is not None else ()

    # -- machines ------------------------------------------------------------------------
    def machine_name(self, name: str | None = None) -> str:
        return f"{self.learner}--{self.lab.id}--{self.lab.machine(name).name}"

    def machine(self, name: str | None = None) -> Machine:
        return Machine(self.machine_name(name))

    def machines(self) -> list[Machine]:
        return [self.machine(decl.name) for decl in self.lab.machines]

    def network(self) -> Network | None:
        """The lab's network (None for a lab whose machine stands alone)."""
        return Network(f"{self.learner}--{self.lab.id}") if self.lab.network else None

    def started(self) -> bool:
        """Every machine runs; in a networked lab, the network is up and every machine exists (one
        stopped on purpose with `maillab node stop` counts as started)."""
        network = self.network()
        if network is None:
            return all(m.running() for m in self.machines())
        return network.is_up() and all(m.exists() for m in self.machines())

    def start(self, *, quiet: bool = True) -> None:
        """Make the lab's network and machines exist and run (idempotent: a stopped machine keeps
        its files, a network what its servers received)."""
        try:
            network = self._network_up()
            for decl in self.lab.machines:
                machine = self.machine(decl.name)
                if machine.exists():
                    machine.start()
                else:
                    state = layers.state_at(self.lab, 0, decl.name, quiet=quiet, variant=self.variant)
                    Machine.create(machine.name, layers.spec_for(decl, state, network))
        except SandboxError as exc:
            raise MailLabError(say(exc)) from None
        self._remember_current()

    def _remember_current(self) -> None:
        """This lab is what `maillab shell` and `maillab exec` enter from now on."""
        update_state(self.learner, lab=self.lab.id)

    def _network_up(self, *, fresh: bool = False) -> Network | None:
        network = self.network()
        if network is None:
            return None
        rebuild = fresh or not network.exists() or network.spec != self.lab.network
        if rebuild or not network.is_up():
            # Machines still living in an old or torn-down network would keep it: they go first.
            for machine in self.machines():
                machine.stop(remember_services=True)
        if rebuild:
            return Network.create(network.name, self.lab.network)
        network.up()
        return network

    def stop(self) -> None:
        """Power off: machines first, then the network they live in (files are kept)."""
        for machine in self.machines():
            machine.stop()
        network = self.network()
        if network is not None:
            network.down()

    # -- faults on demand (the MX lessons) ------------------------------------------------
    NODE_ACTIONS = ("stop", "start", "unplug", "plug")

    def node(self, name: str, action: str) -> str:
        """Stop or start a node (refused connections), unplug or plug it in (a silent host).
        Returns a sentence saying what happened."""
        network = self.network()
        if network is None:
            raise UsageError(_("The lab {lab} has no lab network, so it has no nodes to {action}.",
                               lab=self.lab.id, action=action))
        if action not in self.NODE_ACTIONS:
            raise UsageError(_("Nodes can be {actions}; not {action}.", actions=", ".join(self.NODE_ACTIONS),
                               action=repr(action)))
        self.require_started()
        decl = next((m for m in self.lab.machines if m.name == name), None)
        try:
            if action in ("unplug", "plug"):
                network.unplug(name) if action == "unplug" else network.plug(name)
                return (_("{name} is unplugged: it is silent now, and connections to it time out.", name=name)
                        if action == "unplug" else _("{name} is plugged in again.", name=name))
            if decl is not None:
                machine = self.machine(name)
                machine.stop() if action == "stop" else machine.start()
            else:
                network.stop_node(name) if action == "stop" else network.start_node(name)
            return (_("{name} is stopped: connections to it are refused.", name=name) if action == "stop"
                    else _("{name} is running again.", name=name))
        except SandboxError as exc:
            raise UsageError(say(exc)) from None

    def node_states(self) -> dict[str, str]:
        network = self.network()
        if network is None:
            return {}
        states = network.node_states()
        for decl in self.lab.machines:
            if states.get(decl.name) == "up" and not self.machine(decl.name).running():
                states[decl.name] = "stopped"
        return states

    def require_started(self) -> None:
        if not self.started():
            raise UsageError(_("The lab {lab} is not started: run `maillab lab start {lab}` first.", lab=self.lab.id))

    # -- grading -------------------------------------------------------------------------
    @property
    def gradebook(self) -> Gradebook:
        if self._gradebook is None:
            path = gradebook_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            self._gradebook = open_gradebook(path)
        return self._gradebook

    def host(self, name: str | None = None) -> Host:
        from grader.world import World

        return Host(MachineBackend(self.machine(name)), name=self.lab.machine(name).name,
                    world=World(self) if self.lab.network else None)

    def check(self, step_id: str) -> StepResult:
        self.lab.step(step_id)
        self.require_started()
        if not checks_of(self.lab.checks_file).get(step_id):
            raise MailLabError(_("Lab {lab} has no checks for step {step}.", lab=self.lab.id, step=step_id))
        # In a child process with a memory and time cap: a hostile machine fails its own check, nothing else.
        fails = self.gradebook.fails_before(self.learner, self.lab.id, step_id) if self.record else {}
        result = run_isolated(self.lab, self.learner, step_id, deadline=STEP_DEADLINE, fails_before=fails,
                              drawn=self.drawn if self.variant is not None else None)
        if self.record:
            self.gradebook.record(self.learner, result, kind="check")
        return result

    def solve(self, step_id: str, *, only: bool = False) -> list[str]:
        """Apply the reference solutions of every step up to and including `step_id` (scripts are
        idempotent), or of that step alone with `only`."""
        last = self.lab.step_index(step_id)
        self.require_started()
        done = []
        for step in self.lab.steps[last if only else 0: last + 1]:
            for decl in self.lab.machines:
                try:
                    layers.run_solution(self.lab, step.id, self.machine(decl.name), decl.name,
                                        variant=self.variant)
                except SandboxError as exc:
                    raise MailLabError(say(exc)) from None
            done.append(step.id)
            if self.record:
                self.gradebook.record(self.learner, _marker(self.lab.id, step.id, "solve"), kind="solve")
        return done

    def record_guidance(self, step_id: str, mode: str) -> None:
        """The gradebook's record that the step's how-to was shown (in `mode`: guided or challenge)."""
        self.lab.step(step_id)
        self.gradebook.record(self.learner, _marker(self.lab.id, step_id, "guidance"), kind="guidance", mode=mode)

    def reset(self, step_id: str | None = None, *, quiet: bool = True) -> None:
        """Machines back to the state at the start of `step_id` (the lab's start by default)."""
        index = self.lab.step_index(step_id) if step_id else 0
        try:
            states = {d.name: layers.state_at(self.lab, index, d.name, quiet=quiet, variant=self.variant)
                      for d in self.lab.machines}
            for machine in self.machines():
                machine.destroy()
            network = self._network_up(fresh=True)  # servers running, cables in, nothing received
            for decl in self.lab.machines:
                Machine.create(self.machine_name(decl.name), layers.spec_for(decl, states[decl.name], network))
        except SandboxError as exc:
            raise MailLabError(say(exc)) from None
        self._remember_current()
        if self.record:  # this step and every later one are undone: a solve of theirs no longer stands
            for step in self.lab.steps[index:]:
                self.gradebook.record(self.learner, _marker(self.lab.id, step.id, "reset"), kind="reset")

    def last_result(self, step_id: str) -> StepResult | None:
        return self.gradebook.last_result(self.learner, self.lab.id, step_id)

    def skip_to(self, step_id: str) -> list[str]:
        """Skip to here: apply the reference solutions of the steps before `step_id`, without any
        check. The gradebook notes "skip" for each of them that was not passed already (a step
        the learner passed stays theirs). Returns the steps whose solution was applied."""
        index = self.lab.step_index(step_id)
        if index == 0:
            return []
        before = self.gradebook.step_states(self.learner, self.lab.id) if self.record else {}
        record, self.record = self.record, False  # solve() would note "solve": this is a skip
        try:
            done = self.solve(self.lab.steps[index - 1].id)
        finally:
            self.record = record
        if self.record:
            for step in done:
                if before.get(step, {}).get("state") not in ("passed", "helped"):
                    self.gradebook.record(self.learner, _marker(self.lab.id, step, "skip"), kind="skip")
        return done

    def progress(self) -> dict:
        """Per step: passed_now, ever_passed, attempts, and the state the notebook shows (`state`:
        passed, helped, skipped, solved, failed, reset or todo; `at`: since when; `checked_at`:
        the latest check; see Gradebook.step_states)."""
        steps = self.gradebook.progress(self.learner, self.lab.id)
        for step, state in self.gradebook.step_states(self.learner, self.lab.id).items():
            steps.setdefault(step, {"passed_now": False, "ever_passed": False, "attempts": 0}).update(state)
        return steps


def _marker(lab_id: str, step_id: str, kind: str) -> StepResult:
    """A result with no items: the gradebook's record that a solve or reset happened."""
    return StepResult(lab=lab_id, step=step_id, items=[], started_at=datetime.now(timezone.utc).isoformat(),
                      duration=0.0)


def open_session(lab_id: str, learner: str | None = None, *, record: bool = True) -> LabSession:
    """The learner's session on a lab. Where the learner is not root and a remote session is
    registered (the `maillab.remote_session` entry point: a workshop's grader service, when
    MAILLAB_WORKSHOP_SOCKET is set), that one: the same methods, carried out for the learner."""
    if os.geteuid() != 0 and os.environ.get("MAILLAB_WORKSHOP_SOCKET"):
        for point in entry_points(group="maillab.remote_session"):
            return point.load()(course.find(lab_id))
    return LabSession(course.find(lab_id), learner, record=record)
