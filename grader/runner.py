"""Running one step's checks against a host, in order, each bounded in time."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Callable, Mapping, Sequence

from sandbox.errors import SandboxError

from . import bounded
from .check import Check, Fail
from .host import Host
from .i18n import _, say, translate
from .result import ItemResult, Status, StepResult

log = logging.getLogger(__name__)

RETRY_INTERVAL = 0.2
STEP_DEADLINE = 60.0  # seconds for all of a step's checks
RETRY_HINT = _("Try the check again. If it keeps happening, reset the step (or restart your lab machine).")
# What a check saw can be a learner's 8 MiB of command output; the panel and gradebook keep this much.
DETAIL_LIMIT = 2000
# A check's child process (isolated.py) has this much memory of its own; past it, allocations fail.
MEMORY_CAP = 256 * 2**20
TOO_MUCH_HINT = _("Look at what your machine's mail servers send (a greeting or a reply that never ends?), then try "
                  "the check again. If it keeps happening, reset the step.")
GRADER_BUG_HINT = _("This is a problem in the grader, not in your work. Try the check again; "
                    "if it keeps happening, tell your instructor.")


def run_step(checks: Sequence[Check], host: Host, *, lab: str, step: str,
             deadline: float = STEP_DEADLINE,
             clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep,
             fails_before: Mapping[str, int] | None = None) -> StepResult:
    """Run `checks` in order. The first FAIL or ERROR stops the step; later checks are NOT_RUN.
    `fails_before`: how often each check FAILED this learner before (the rung of its hint ladder), by
    ladder_key."""
    started_at = datetime.now(timezone.utc).isoformat()
    start = clock()
    step_end = start + deadline
    items: list[ItemResult] = []
    stopped = False
    # Network conversations end with the step too (only on the real clock: a test's clock is not theirs).
    with host.bounded_until(step_end, clock=clock), bounded.until(step_end if clock is time.monotonic else None):
        for chk in checks:
            if stopped:
                items.append(ItemResult(chk.name, str(translate(chk.title)), Status.NOT_RUN,
                                        str(translate(_("not run: an earlier check did not pass")))))
                continue
            if clock() >= step_end:
                items.append(ItemResult(
                    chk.name, str(translate(chk.title)), Status.ERROR,
                    str(translate(_("The step used up its {seconds} s time limit before this check could run.",
                                seconds=f"{deadline:g}"))),
                    str(translate(RETRY_HINT))))
                stopped = True
                continue
            item = _run_check(chk, host, step_end, clock, sleep, fails_before or {})
            items.append(item)
            stopped = item.status is not Status.PASS
    return StepResult(lab=lab, step=step, items=tuple(items), started_at=started_at,
                      duration=round(clock() - start, 6))


def ladder_key(name: str, about: str = "") -> str:
    """What earlier FAILs are counted by to find a ladder's rung: the check, and what a FAIL with a
    ladder of its own was about."""
    return f"{name}#{about}" if about else name


def _run_check(chk: Check, host: Host, step_end: float, clock: Callable[[], float],
               sleep: Callable[[float], None], fails_before: Mapping[str, int]) -> ItemResult:
    start = clock()
    retry_until = min(start + chk.within, step_end)
    level = min(max(fails_before.get(chk.name, 0), 0), len(chk.ladder) - 1)

    def item(status: Status, detail: str, hint: str | None = None, hint_level: int = 0, about: str = "") -> ItemResult:
        # Checks speak English in the code; the learner reads their own language.
        return ItemResult(chk.name, str(translate(chk.title)), status, _bounded(str(translate(detail))),
                          None if hint is None else _bounded(str(translate(hint))), round(clock() - start, 6),
                          hint_level, about)

    while True:
        try:
            observed = chk.func(host)
        except Fail as failure:
            if clock() + RETRY_INTERVAL < retry_until:
                sleep(RETRY_INTERVAL)
                continue
            if failure.ladder:  # its own ladder, climbed per thing it is about
                rung = min(max(fails_before.get(ladder_key(chk.name, failure.about), 0), 0), len(failure.ladder) - 1)
                return item(Status.FAIL, failure.detail, failure.ladder[rung], rung, failure.about)
            if failure.hint:  # it names the actual problem
                return item(Status.FAIL, failure.detail, failure.hint)
            return item(Status.FAIL, failure.detail, chk.ladder[level], level)
        except SandboxError as exc:
            return item(Status.ERROR, " ".join(say(exc).split()) or type(exc).__name__,
                        RETRY_HINT)
        except MemoryError:
            # Past the child's memory cap (isolated.py): what the check read from the machine was too much.
            return item(Status.ERROR, _("The check used more than {mib} MiB: your machine sent the grader too much.",
                                        mib=MEMORY_CAP // 2**20), TOO_MUCH_HINT)
        except Exception as exc:  # the learner must see a sentence, the instructor the traceback
            log.exception("check %s (step %s) raised", chk.name, chk.step)
            return item(Status.ERROR,
                        _("The grader itself failed while checking this ({error}).",
                          error=f"{type(exc).__name__}: {_one_line(str(exc))}"),
                        GRADER_BUG_HINT)
        return item(Status.PASS, "" if observed is None else str(translate(observed)))


def _bounded(text: str, limit: int = DETAIL_LIMIT) -> str:
    if len(text) <= limit:
        return text
    more = str(translate(_("... ({count} more characters)", count=len(text) - limit + 40)))
    return text[: limit - len(more)] + more


def _one_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."
