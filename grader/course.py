"""A lab is data: a folder with lab.toml, lab.ipynb, checks.py and solve/ (one script per step)."""
from __future__ import annotations

import hashlib
import os
import random
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.network import NetworkSpec

from .errors import MailLabError, UsageError
from .i18n import _
from .netdecl import Where, network_spec

ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def labs_dir() -> Path:
    """The course's labs folder: $MAILLAB_LABS, else labs/ beside the grader package."""
    return Path(os.environ.get("MAILLAB_LABS", Path(__file__).resolve().parent.parent / "labs"))


STEP_KINDS = ("hands-on", "quiz", "reading")


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    points: int = 1
    fresh_fails: str = ""  # the check a fresh machine must fail first (proved by selftest)
    # The whole outcome a PASS promises, in a few words for a reviewer: every user, recipient and kind
    # of client the step concerns (`maillab lab lint` refuses a step without one).
    promise: str = field(default="", compare=False)
    # hands-on (the learner acts on a machine), quiz or reading: running an untouched notebook passes
    # no hands-on step.
    kind: str = "hands-on"
    # The machine the step's cells and terminal use (a machine name of the lab; "": the lab's first).
    machine: str = ""


@dataclass(frozen=True)
class MachineDecl:
    name: str
    hostname: str
    domain: str
    memory_mb: int = 512
    address: str = ""  # on the lab network (labs with a [network])
    pids: int = 512  # processes at once
    disk_mb: int = 1024  # what the machine can write
    cpu: float = 1.0  # cores it may use at most (a quota; 0: none)


@dataclass(frozen=True)
class Lab:
    id: str
    title: str
    number: int
    dir: Path
    steps: tuple[Step, ...]
    machines: tuple[MachineDecl, ...]
    starts_after: str = ""  # a lab whose reference solutions make this lab's starting state
    summary: str = field(default="", compare=False)
    network: NetworkSpec | None = field(default=None, compare=False)  # None: each machine on its own
    # A starting state made for each learner: its scripts see $MAILLAB_SEED (from the learner's name).
    per_learner: bool = False
    # A pool of faults (faults/ID/ folders) of which each learner gets `draw`, chosen by their seed.
    pool: tuple[str, ...] = ()
    draw: int = 0

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        known = ", ".join(s.id for s in self.steps)
        raise UsageError(_("Lab {lab} has no step {step}. Its steps are: {known}.", lab=self.id, step=repr(step_id),
                           known=known))

    def step_index(self, step_id: str) -> int:
        return self.steps.index(self.step(step_id))

    def step_machine(self, step_id: str) -> str:
        """The name of the machine a step's cells and terminal use (declared, else the lab's first)."""
        return self.step(step_id).machine or self.machines[0].name

    def machine(self, name: str | None = None) -> MachineDecl:
        if name is None:
            return self.machines[0]
        for decl in self.machines:
            if decl.name == name:
                return decl
        known = ", ".join(m.name for m in self.machines)
        raise UsageError(_("Lab {lab} has no machine {machine}. Its machines are: {known}.", lab=self.id,
                           machine=repr(name), known=known))

    @property
    def checks_file(self) -> Path:
        return self.dir / "checks.py"

    @property
    def notebook(self) -> Path:
        return self.dir / "lab.ipynb"

    def notebook_in(self, lang: str) -> Path:
        """The lab's notebook in `lang` (lab.zh.ipynb beside lab.ipynb); English when it has none."""
        twin = self.dir / f"lab.{lang}.ipynb"
        return twin if lang != "en" and twin.is_file() else self.notebook


@dataclass(frozen=True)
class Variant:
    """What makes one learner's copy of a lab their own: a seed from their name and, in a lab with a
    pool, the faults drawn with it (the same after every reset, different between learners)."""
    seed: str
    drawn: tuple[str, ...] = ()

    def script_prefix(self) -> bytes:
        """Shell lines put before each setup and solve script of the lab."""
        return f"MAILLAB_SEED={self.seed}\nMAILLAB_DRAWN='{' '.join(self.drawn)}'\n".encode()


def variant_for(lab: Lab, learner: str, drawn: tuple[str, ...] | None = None) -> Variant | None:
    """The learner's variant of `lab` (None for a lab that is the same for everyone). `drawn`
    overrides the draw (the selftest proves every fault of the pool that way)."""
    if not lab.per_learner and not lab.pool:
        return None
    salt = draw_salt()
    made_of = f"maillab/{salt}/{lab.id}/{learner}" if salt else f"maillab/{lab.id}/{learner}"
    seed = hashlib.sha256(made_of.encode()).hexdigest()[:16]
    if drawn is None:
        picked = set(random.Random(seed).sample(lab.pool, lab.draw)) if lab.pool else set()
        drawn = tuple(fault for fault in lab.pool if fault in picked)
    unknown = [fault for fault in drawn if fault not in lab.pool]
    if unknown:
        raise UsageError(_("Lab {lab} has no fault {fault} in its pool.", lab=lab.id, fault=repr(unknown[0])))
    return Variant(seed, tuple(drawn))


DRAW_SALT = "draw-salt"  # in MailLab's state folder (root's alone): a workshop's secret part of every seed


def draw_salt() -> str:
    """The secret a workshop mixes into every learner's seed (`maillab workshop up` makes it), so
    that a learner who reads the course's source cannot work out their own draw. Empty without one."""
    from sandbox import paths

    try:
        return (paths.home() / DRAW_SALT).read_text().strip()
    except OSError:
        return ""


def covering_draws(lab: Lab) -> list[tuple[str, ...]]:
    """Draws that together hold every fault of the pool, each the size of a learner's draw."""
    pool, size = list(lab.pool), lab.draw
    draws = []
    for start in range(0, len(pool), size):
        chunk = pool[start:start + size]
        chunk += [f for f in pool if f not in chunk][:size - len(chunk)]  # a short last one is filled up
        draws.append(tuple(f for f in pool if f in chunk))
    return draws


def _pool(folder: Path, data: dict, path: Path) -> tuple[tuple[str, ...], int]:
    table = data.get("pool")
    if table is None:
        return (), 0
    faults = tuple(sorted(d.name for d in (folder / "faults").iterdir() if (d / "plant.sh").is_file())) \
        if (folder / "faults").is_dir() else ()
    draw = table.get("draw", 0) if isinstance(table, dict) else 0
    if not isinstance(draw, int) or not 0 < draw <= len(faults) or any(not ID.match(f) for f in faults):
        raise MailLabError(_("{path}: [pool] draw is how many of the faults/ID/plant.sh a learner gets, between 1 "
                             "and their number ({count}); fault ids use lower-case letters, digits and dashes.",
                             path=str(path), count=len(faults)))
    return faults, draw


def load(folder: Path) -> Lab:
    """Read one lab folder; a mistake in lab.toml is reported with the file's name."""
    path = folder / "lab.toml"
    try:
        text = path.read_text()
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise MailLabError(_("{path} is missing: every lab folder needs a lab.toml.", path=str(path))) from None
    except tomllib.TOMLDecodeError as exc:
        raise MailLabError(_("{path} is not valid TOML: {error}.", path=str(path), error=str(exc))) from None
    try:
        lab_id = data["id"]
        number = int(folder.name.split("-", 1)[0])
        steps = tuple(Step(**s) for s in data["steps"])
        machine_tables = data.get("machines", [{"name": "mail", "hostname": "mail", "domain": "example.test"}])
        machines = tuple(MachineDecl(**m) for m in machine_tables)
    except (KeyError, TypeError, ValueError) as exc:
        raise MailLabError(_("{path} is not a valid lab description ({error}).", path=str(path),
                             error=str(exc))) from None
    where = Where(path, text)
    names = [m.name for m in machines]
    for index, name in enumerate(names):
        if names.index(name) != index or not ID.match(name):
            raise where.error(_("machine names use lower-case letters, digits and dashes, and each is used once "
                                "({name}).", name=repr(name)), "machines", index, "name")
    network = network_spec(data, machine_tables, where)
    if not ID.match(lab_id) or any(not ID.match(s.id) for s in steps):
        raise MailLabError(_("{path}: lab and step ids use lower-case letters, digits and dashes only.",
                             path=str(path)))
    if any(s.kind not in STEP_KINDS for s in steps):
        raise MailLabError(_("{path}: a step's kind is one of {kinds}.", path=str(path), kinds=", ".join(STEP_KINDS)))
    if len({s.id for s in steps}) != len(steps):
        raise MailLabError(_("{path}: two steps have the same id.", path=str(path)))
    pool, draw = _pool(folder, data, path)
    return Lab(id=lab_id, title=data.get("title", lab_id), number=number, dir=folder, steps=steps,
               machines=machines, starts_after=data.get("starts_after", ""), summary=data.get("summary", ""),
               network=network, per_learner=bool(data.get("per_learner", False)), pool=pool, draw=draw)


def all_labs() -> list[Lab]:
    base = labs_dir()
    if not base.is_dir():
        raise MailLabError(_("The labs folder {path} is missing.", path=str(base)))
    return [load(d) for d in sorted(base.iterdir()) if (d / "lab.toml").is_file()]


def find(lab_id: str) -> Lab:
    labs = all_labs()
    for lab in labs:
        if lab.id == lab_id:
            return lab
    known = ", ".join(lab.id for lab in labs)
    raise UsageError(_("There is no lab called {lab}. The labs are: {known}.", lab=repr(lab_id), known=known))
