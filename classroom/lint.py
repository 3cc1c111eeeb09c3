"""`maillab lab lint`: what a lab author forgot, found without starting a machine.

Each problem is one sentence naming the file and the line (or the notebook cell):
- a step needs a title, a promise (the whole outcome its PASS stands for), at least one check, a
  reference solution, a `fresh_fails` naming one of its own checks, and a check cell
  (`lab.check("STEP")`) in every edition of the notebook;
- a check whose `step=` names no step of the lab would never run;
- in a lab with a pool of faults, every folder of faults/ plants its fault (plant.sh) and has its
  part of some step's reference solution (faults/ID/STEP.sh);
- every learner-facing text (titles, the summary, each check's title and hint) has a translation
  in every language of the course.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from grader import i18n
from grader.check import Check, ChecksError, checks_of
from grader.i18n import _
from grader.course import Lab

from . import layers

CHECK_CELL = re.compile(r"""\blab\.check\(\s*["']([a-z0-9-]+)["']""")


def problems(lab: Lab) -> list[str]:
    """Every mistake found in one lab, as sentences naming the file and the line."""
    try:
        by_step = checks_of(lab.checks_file)
    except ChecksError as exc:
        return [f"{_rel(lab.checks_file)}: {exc}"]
    return [*_steps(lab, by_step), *_orphans(lab, by_step), *_pool(lab), *_notebooks(lab),
            *_translations(lab, by_step)]


def _pool(lab: Lab) -> list[str]:
    folder = lab.dir / "faults"
    if not folder.is_dir():
        return []
    found = []
    steps = {s.id for s in lab.steps}
    for fault in sorted(d for d in folder.iterdir() if d.is_dir()):
        if not (fault / "plant.sh").is_file():
            found.append(_("faults/{fault}: there is no plant.sh, so this fault is never given to anyone.",
                           fault=fault.name))
        elif not any((fault / f"{step}.sh").is_file() for step in steps):
            found.append(_("faults/{fault}: no step's reference solution repairs it (faults/{fault}/STEP.sh, e.g. "
                           "repair.sh).", fault=fault.name))
    if not lab.pool and any((fault / "plant.sh").is_file() for fault in folder.iterdir()):
        found.append(_("{path}: faults/ holds a pool, but lab.toml has no [pool] draw.", path=_rel(lab.dir / "lab.toml")))
    return found


def _rel(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _toml_line(lab: Lab, step_id: str) -> str:
    path = lab.dir / "lab.toml"
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if re.match(rf"""\s*id\s*=\s*["']{re.escape(step_id)}["']""", line):
            return f"{_rel(path)}:{number}"
    return _rel(path)


def _check_line(lab: Lab, check: Check) -> str:
    return f"{_rel(lab.checks_file)}:{check.func.__code__.co_firstlineno}"


def _steps(lab: Lab, by_step: dict[str, list[Check]]) -> list[str]:
    found = []
    for step in lab.steps:
        where = _toml_line(lab, step.id)
        if not step.title.strip() or step.title == step.id:
            found.append(_("{where}: step {step} has no title.", where=where, step=step.id))
        if not step.promise.strip():
            found.append(_("{where}: step {step} has no promise: say in a few words everyone and everything a PASS "
                           "stands for (promise = \"...\").", where=where, step=step.id))
        names = [c.name for c in by_step.get(step.id, [])]
        if not names:
            found.append(_("{where}: step {step} has no check in checks.py.", where=where, step=step.id))
        elif step.fresh_fails and step.fresh_fails not in names:
            found.append(_("{where}: the fresh_fails of step {step} names {name}, which is not one of its checks "
                           "({names}).", where=where, step=step.id, name=repr(step.fresh_fails), names=", ".join(names)))
        machines = [m.name for m in lab.machines]
        if step.machine and step.machine not in machines:
            found.append(_("{where}: step {step} names machine {name}, which the lab does not have (its machines: "
                           "{names}).", where=where, step=step.id, name=repr(step.machine), names=", ".join(machines)))
        if not any(layers.solve_scripts(lab, step.id, m.name) for m in lab.machines):
            found.append(_("{where}: step {step} has no reference solution (solve/{step}.sh).", where=where,
                           step=step.id))
    return found


def _orphans(lab: Lab, by_step: dict[str, list[Check]]) -> list[str]:
    steps = {s.id for s in lab.steps}
    return [_("{where}: check {name} is declared for step {step}, which the lab does not have: it would never run.",
              where=_check_line(lab, check), name=check.name, step=repr(step_id))
            for step_id, checks in sorted(by_step.items()) if step_id not in steps for check in checks]


def _notebooks(lab: Lab) -> list[str]:
    found = []
    steps = [s.id for s in lab.steps]
    for path in sorted(lab.dir.glob("lab*.ipynb")):
        try:
            cells = json.loads(path.read_text())["cells"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            found.append(_("{where}: not a notebook Jupyter can open ({error}).", where=_rel(path), error=str(exc)))
            continue
        seen: dict[str, int] = {}
        learner = {learner_step(cell) for cell in cells} - {None}
        for number, cell in enumerate(cells, 1):
            if cell.get("cell_type") != "code":
                continue
            source = "".join(cell.get("source", ""))
            body = "\n".join(line for line in source.splitlines()
                             if line.strip() and not line.lstrip().startswith(("#", "%%bash")))
            if learner_step(cell) is not None and body:
                found.append(_("{where} cell {cell}: the learner's cell for step {step} must start empty (a comment "
                               "at most): the notebook never does a step for the learner.", where=_rel(path),
                               cell=number, step=learner_step(cell)))
            for step_id in CHECK_CELL.findall(source):
                seen.setdefault(step_id, number)
                if step_id not in steps:
                    found.append(_("{where} cell {cell}: checks step {step}, which the lab does not have.",
                                   where=_rel(path), cell=number, step=step_id))
        for step_id in steps:
            if step_id not in seen:
                found.append(_("{where}: no check cell for step {step} (lab.check(\"{step}\")).", where=_rel(path),
                               step=step_id))
        if learner:  # a notebook where the learner acts: every hands-on step has a place to act
            for step in lab.steps:
                if step.kind == "hands-on" and step.id not in learner:
                    found.append(_("{where}: no cell for the learner's commands in step {step} (a code cell with "
                                   "metadata maillab.learner = \"{step}\").", where=_rel(path), step=step.id))
    return found


def learner_step(cell: dict) -> str | None:
    """The step whose commands the learner writes in this cell (metadata maillab.learner), or None."""
    marked = (cell.get("metadata") or {}).get("maillab") or {}
    step = marked.get("learner") if isinstance(marked, dict) else None
    return step if isinstance(step, str) else None


def _translations(lab: Lab, by_step: dict[str, list[Check]]) -> list[str]:
    texts: list[tuple[str, str]] = [(_rel(lab.dir / "lab.toml"), lab.title)]
    if lab.summary:
        texts.append((_rel(lab.dir / "lab.toml"), lab.summary))
    texts += [(_toml_line(lab, s.id), s.title) for s in lab.steps]
    for checks in by_step.values():
        for check in checks:
            texts += [(_check_line(lab, check), check.title), (_check_line(lab, check), check.hint)]
    found = []
    for lang in i18n.available():
        if lang == i18n.DEFAULT:
            continue
        catalog = i18n.catalog(lang)
        for where, text in texts:
            msgid = getattr(text, "msgid", text)
            if msgid and not catalog.get(msgid):
                found.append(_("{where}: no {lang} translation of \"{text}\".", where=where, lang=lang,
                               text=_short(msgid)))
    return found


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
