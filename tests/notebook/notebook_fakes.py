"""Stand-ins for the notebook tests: a machine that is just `env -i` on this host, and a session."""
from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

from grader.result import ItemResult, Status, StepResult


class FakeMachine:
    """Runs commands on this host with a clean environment and a marker variable set."""

    def __init__(self, root: Path = Path("/nonexistent"), name: str = "fake"):
        self.name = name
        self.root = root
        self.running = True

    def enter_argv(self, argv, *, tty=False, env=None):
        if not self.running:
            from sandbox.errors import MachineNotRunning
            raise MachineNotRunning(f"Machine {self.name} is not running.")
        extra = [f"{k}={v}" for k, v in (env or {}).items()]
        return ["env", "-i", "PATH=/usr/bin:/bin", "MAILLAB_IN_FAKE_MACHINE=1", *extra, *argv]


def step_result(status: Status, *, hint="Install it with `apt-get install postfix`.",
                detail="dpkg-query: postfix <not-installed>") -> StepResult:
    items = [ItemResult("image", "The machine runs Debian", Status.PASS, "bookworm")]
    if status is Status.PASS:
        items.append(ItemResult("installed", "Postfix is installed", Status.PASS, "postfix 3.7"))
    else:
        items.append(ItemResult("installed", "Postfix is installed", status, detail, hint))
        items.append(ItemResult("running", "Postfix is running", Status.NOT_RUN))
    return StepResult(lab="install-postfix", step="install", items=items,
                      started_at="2025-01-02T10:00:00+00:00", duration=0.1)


class FakeSession:
    """The LabSession surface the notebook uses; check() can be held open with `gate`."""

    def __init__(self, *, last=None, outcome=None, machine=None):
        self.lab = SimpleNamespace(id="install-postfix", title="Install Postfix", steps=[
            SimpleNamespace(id="install", title="Install Postfix"),
            SimpleNamespace(id="deliver", title="Deliver a message")],
            machines=[SimpleNamespace(name="mail")])
        self.last = last
        self.outcome = outcome if outcome is not None else step_result(Status.PASS)
        self.gate = threading.Event()
        self.gate.set()
        self.check_calls = 0
        self.start_calls = 0
        self.start_error: Exception | None = None
        self.solved: list[str] = []
        self.resets: list[str] = []
        self._machine = machine or FakeMachine()
        self.passed: set[str] = set()
        self.running = True

    def started(self):
        return self.running

    def start(self):
        if self.start_error:
            raise self.start_error
        self.start_calls += 1

    def machine(self, name=None):
        return self._machine

    def check(self, step_id):
        self.check_calls += 1
        self.gate.wait(10)
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        if self.outcome.passed:
            self.passed.add(step_id)
        self.last = self.outcome
        return self.outcome

    def last_result(self, step_id):
        if isinstance(self.last, BaseException):
            raise self.last
        return self.last

    def solve(self, step_id):
        self.solved.append(step_id)
        return [s.id for s in self.lab.steps[: [s.id for s in self.lab.steps].index(step_id) + 1]]

    def reset(self, step_id):
        self.resets.append(step_id)

    def progress(self):
        return {s.id: {"passed_now": s.id in self.passed, "ever_passed": s.id in self.passed, "attempts": 1}
                for s in self.lab.steps}


