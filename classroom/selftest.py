"""The course proves its own checks: fresh state FAILS with the expected check, the reference
solution makes it PASS, and checking again still PASSES."""
from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable

from grader import course
from grader.errors import MailLabError
from grader.i18n import _, say, translate
from grader.course import Lab
from grader.result import Status
from .session import LabSession

# The machines' learner name (`selftest--LAB--MACHINE`); runs side by side (the tests) name theirs apart.
LEARNER = os.environ.get("MAILLAB_SELFTEST_LEARNER", "selftest")
# Steps proved at once: their machines wait on Postfix (its two-second cool-down after each edit of
# main.cf), Dovecot and the network far more than they compute, so on 2 cores eight side by side
# take a fifth of the time of one after another.
WORKERS = 8


@dataclass
class StepVerdict:
    lab: str
    step: str
    ok: bool
    seconds: float
    note: str
    drawn: tuple[str, ...] = ()  # a lab with a pool: the faults this run was given

    def __str__(self) -> str:
        mark = "ok  " if self.ok else "FAIL"  # the same in every language: bench/flaky reads it
        faults = f"  [{', '.join(self.drawn)}]" if self.drawn else ""
        return f"{mark} {self.lab + '/' + self.step:<34} {self.seconds:6.1f} s  {translate(self.note)}{faults}"


def selftest_lab(lab: Lab, report: Callable[[StepVerdict], None] = print) -> list[StepVerdict]:
    """Every step proved; a lab with a pool of faults once per draw, the draws together holding
    every fault of the pool (not only the one a learner happens to get)."""
    verdicts = []
    for drawn in course.covering_draws(lab) if lab.pool else [None]:
        verdicts += _selftest_draw(lab, drawn, report)
    return verdicts


def selftest_course(labs: list[Lab], report: Callable[[StepVerdict], None] = print,
                    workers: int = WORKERS) -> list[StepVerdict]:
    """`selftest_lab` for many labs at once, in worker processes. Each step proves itself from its
    own starting state, so in most labs each step is a job with machines of its own (a learner name
    of its own: `selftest-s2` for the third step). A lab made per learner, and each draw of an exam,
    is one job: its starting states are that learner's. `report` hears a lab's (or a draw's)
    verdicts together when its last job ends; the verdicts come back in course order."""
    jobs = _jobs(labs)
    if workers <= 1 or len(jobs) <= 1:
        return [v for job in jobs for v in _selftest_draw(job.lab, job.drawn, report, job.learner, job.steps)]
    # The longest first, so that no long job starts last: exams and whole labs, then single steps.
    order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i].steps))
    results: dict[int, list[StepVerdict]] = {}
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {pool.submit(_job, jobs[i].lab.id, jobs[i].drawn, jobs[i].learner, jobs[i].steps): i
                   for i in order}
        for future in as_completed(futures):
            i = futures[future]
            job = jobs[i]
            try:
                results[i] = future.result()
            except Exception as exc:  # a worker that died: its steps are a FAIL that says why
                results[i] = [StepVerdict(job.lab.id, step, False, 0.0, _("the selftest of this lab stopped: {error}",
                                                                          error=say(exc))) for step in job.steps]
            group = [k for k, other in enumerate(jobs) if other.group == job.group]
            if all(k in results for k in group):
                for verdict in (v for k in group for v in results[k]):
                    report(verdict)
    return [v for i in range(len(jobs)) for v in results[i]]


@dataclass(frozen=True)
class _Job:
    lab: Lab
    drawn: tuple[str, ...] | None
    learner: str
    steps: tuple[str, ...]
    group: tuple[str, int]  # the lab, and its draw: reported together


def _jobs(labs: list[Lab]) -> list[_Job]:
    jobs = []
    for lab in labs:
        if lab.pool or lab.per_learner:
            for n, drawn in enumerate(course.covering_draws(lab) if lab.pool else [None]):
                jobs.append(_Job(lab, drawn, LEARNER if n == 0 else f"{LEARNER}-d{n}",
                                 tuple(step.id for step in lab.steps), (lab.id, n)))
        else:
            for n, step in enumerate(lab.steps):
                jobs.append(_Job(lab, None, LEARNER if n == 0 else f"{LEARNER}-s{n}", (step.id,), (lab.id, 0)))
    return jobs


def _job(lab_id: str, drawn: tuple[str, ...] | None, learner: str, steps: tuple[str, ...]) -> list[StepVerdict]:
    return _selftest_draw(course.find(lab_id), drawn, lambda verdict: None, learner, steps)


def _selftest_draw(lab: Lab, drawn: tuple[str, ...] | None, report: Callable[[StepVerdict], None],
                   learner: str = LEARNER, steps: tuple[str, ...] | None = None) -> list[StepVerdict]:
    session = LabSession(lab, learner, record=False, drawn=drawn)
    verdicts = []
    try:
        for step in lab.steps:
            if steps is not None and step.id not in steps:
                continue
            started = time.monotonic()
            try:
                ok, note = _prove_step(session, step)
            except MailLabError as exc:
                ok, note = False, say(exc)
            verdict = StepVerdict(lab.id, step.id, ok, time.monotonic() - started, note, drawn or ())
            report(verdict)
            verdicts.append(verdict)
    finally:
        for machine in session.machines():
            machine.destroy()
        network = session.network()
        if network is not None:
            network.destroy()
    return verdicts


def _prove_step(session: LabSession, step) -> tuple[bool, str]:
    session.reset(step.id)
    fresh = session.check(step.id)
    if fresh.status is not Status.FAIL:
        return False, _("a fresh machine should FAIL this step but it is {status}: {problem}",
                        status=fresh.status.value, problem=_first(fresh))
    first = fresh.first_problem
    if step.fresh_fails and first.name != step.fresh_fails:
        return False, _("a fresh machine should first fail {wanted}, but failed {check}: {detail}",
                        wanted=step.fresh_fails, check=first.name, detail=first.detail)
    session.solve(step.id, only=True)
    solved = session.check(step.id)
    if solved.status is not Status.PASS:
        return False, _("after the reference solution the step is {status}: {problem}",
                        status=solved.status.value, problem=_first(solved))
    again = session.check(step.id)
    if again.status is not Status.PASS:
        return False, _("checking a second time gives {status}: {problem}", status=again.status.value,
                        problem=_first(again))
    return True, _("fresh FAIL ({check}) -> solved PASS -> again PASS", check=first.name)


def _first(result) -> str:
    item = result.first_problem
    return f"{item.name}: {item.detail}" if item else _("no items")
