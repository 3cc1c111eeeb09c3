"""`maillab lab lint`: what a lab author forgot, found without starting a machine.

A step needs a promise (the whole outcome its PASS stands for), at least one check, a reference
solution, and a `fresh_fails` naming one of its own checks; a check whose `step=` names no step of
the lab would never run.
"""
from __future__ import annotations

from . import layers
from grader.check import ChecksError, checks_of
from grader.i18n import _
from grader.lab import Lab


def problems(lab: Lab) -> list[str]:
    """Every mistake found in one lab, as sentences naming the lab and the step."""
    found: list[str] = []
    try:
        by_step = checks_of(lab.checks_file)
    except ChecksError as exc:
        return [f"{lab.id}: {exc}"]
    steps = {s.id for s in lab.steps}
    for step_id, checks in sorted(by_step.items()):
        if step_id not in steps:
            names = ", ".join(c.name for c in checks)
            found.append(_("{lab}: checks.py declares {names} for step {step}, which the lab does not have: "
                           "they would never run.", lab=lab.id, names=names, step=repr(step_id)))
    for step in lab.steps:
        where = f"{lab.id} {step.id}"
        if not step.promise.strip():
            found.append(_("{where}: no promise in lab.toml: say in a few words everyone and everything a PASS "
                           "stands for (promise = \"...\").", where=where))
        names = [c.name for c in by_step.get(step.id, [])]
        if not names:
            found.append(_("{where}: no check in checks.py.", where=where))
        elif step.fresh_fails and step.fresh_fails not in names:
            found.append(_("{where}: fresh_fails names {name}, which is not one of its checks ({names}).",
                           where=where, name=repr(step.fresh_fails), names=", ".join(names)))
        if not any(layers.solve_scripts(lab, step.id, m.name) for m in lab.machines):
            found.append(_("{where}: no reference solution in solve/.", where=where))
    return found
