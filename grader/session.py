"""One learner working on one lab: their machines, checks, reference solutions and resets."""
from __future__ import annotations

import getpass
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

from sandbox import Machine, SandboxError, paths

from . import lab as labs
from . import layers
from .backends import MachineBackend
from .check import load_checks
from .errors import MailLabError, UsageError
from .gradebook import Gradebook
from .host import Host
from .lab import Lab
from .result import StepResult
from .runner import run_step


def current_learner() -> str:
    name = os.environ.get("MAILLAB_LEARNER") or getpass.getuser()
    return re.sub(r"[^a-z0-9_-]", "-", name.lower())[:32] or "learner"


def gradebook_path() -> Path:
    return Path(os.environ.get("MAILLAB_GRADEBOOK", paths.home() / "gradebook.sqlite"))


def _state_file(learner: str) -> Path:
    return paths.home() / "learners" / f"{learner}.json"


def current_lab(learner: str | None = None) -> str | None:
    """The lab this learner started last (what `maillab exec` and `maillab shell` enter)."""
    try:
        return json.loads(_state_file(learner or current_learner()).read_text())["lab"]
    except (OSError, ValueError, KeyError):
        return None


class LabSession:
    def __init__(self, lab: Lab, learner: str | None = None, *, record: bool = True):
        self.lab = lab
        self.learner = learner or current_learner()
        self.record = record
        self._gradebook: Gradebook | None = None

    # -- machines ------------------------------------------------------------------------
    def machine_name(self, name: str | None = None) -> str:
        return f"{self.learner}--{self.lab.id}--{self.lab.machine(name).name}"

    def machine(self, name: str | None = None) -> Machine:
        return Machine(self.machine_name(name))

    def machines(self) -> list[Machine]:
        return [self.machine(decl.name) for decl in self.lab.machines]

    def started(self) -> bool:
        return all(m.running() for m in self.machines())

    def start(self, *, quiet: bool = True) -> None:
        """Make the lab's machines exist and run (idempotent: a stopped machine keeps its files)."""
        for decl in self.lab.machines:
            machine = self.machine(decl.name)
            try:
                if machine.exists():
                    machine.start()
                else:
                    state = layers.state_at(self.lab, 0, decl.name, quiet=quiet)
                    Machine.create(machine.name, layers.spec_for(decl, state))
            except SandboxError as exc:
                raise MailLabError(str(exc)) from None
        path = _state_file(self.learner)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"lab": self.lab.id}))
        os.replace(tmp, path)

    def stop(self) -> None:
        for machine in self.machines():
            machine.stop()

    def require_started(self) -> None:
        if not self.started():
            raise UsageError(f"The lab {self.lab.id} is not started: run `maillab lab start {self.lab.id}` first.")

    # -- grading -------------------------------------------------------------------------
    @property
    def gradebook(self) -> Gradebook:
        if self._gradebook is None:
            path = gradebook_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            self._gradebook = Gradebook(path)
        return self._gradebook

    def host(self, name: str | None = None) -> Host:
        return Host(MachineBackend(self.machine(name)))

    def check(self, step_id: str) -> StepResult:
        self.lab.step(step_id)
        self.require_started()
        checks = load_checks(self.lab.checks_file).get(step_id, [])
        if not checks:
            raise MailLabError(f"Lab {self.lab.id} has no checks for step {step_id}.")
        result = run_step(checks, self.host(), lab=self.lab.id, step=step_id)
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
                    layers.run_solution(self.lab, step.id, self.machine(decl.name), decl.name)
                except SandboxError as exc:
                    raise MailLabError(str(exc)) from None
            done.append(step.id)
            if self.record:
                self.gradebook.record(self.learner, _marker(self.lab.id, step.id, "solve"), kind="solve")
        return done

    def reset(self, step_id: str | None = None, *, quiet: bool = True) -> None:
        """Machines back to the state at the start of `step_id` (the lab's start by default)."""
        index = self.lab.step_index(step_id) if step_id else 0
        for decl in self.lab.machines:
            try:
                state = layers.state_at(self.lab, index, decl.name, quiet=quiet)
                Machine.create(self.machine_name(decl.name), layers.spec_for(decl, state))
            except SandboxError as exc:
                raise MailLabError(str(exc)) from None
        if self.record:
            self.gradebook.record(self.learner, _marker(self.lab.id, step_id or self.lab.steps[0].id, "reset"), kind="reset")

    def last_result(self, step_id: str) -> StepResult | None:
        return self.gradebook.last_result(self.learner, self.lab.id, step_id)

    def progress(self) -> dict:
        return self.gradebook.progress(self.learner, self.lab.id)


def _marker(lab_id: str, step_id: str, kind: str) -> StepResult:
    """A result with no items: the gradebook's record that a solve or reset happened."""
    return StepResult(lab=lab_id, step=step_id, items=[], started_at=datetime.now(timezone.utc).isoformat(),
                      duration=0.0)


def open_lab(lab_id: str, learner: str | None = None, *, record: bool = True) -> LabSession:
    """The learner's session on a lab. In a workshop (MAILLAB_WORKSHOP_SOCKET set, not root) it is
    a RemoteSession: the same methods, carried out by the workshop's root grader service."""
    if os.geteuid() != 0 and os.environ.get("MAILLAB_WORKSHOP_SOCKET"):
        from workshop.client import RemoteSession

        return RemoteSession(labs.find(lab_id))  # type: ignore[return-value]
    return LabSession(labs.find(lab_id), learner, record=record)
