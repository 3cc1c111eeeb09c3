"""Starting states: a step starts from the lab's reference solutions of earlier steps, applied once
to a fresh machine and frozen as a cached overlay layer (keyed by everything that made it)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from sandbox import Machine, MachineSpec, SandboxError, image, paths
from sandbox.network import Network

from grader import course
from grader import queuefiles
from grader.errors import MailLabError
from grader.i18n import _, say, tr
from grader.course import Lab, MachineDecl, Variant


# Bumped when the way layers are made changes, so old ones are not reused.
LAYER_FORMAT = 3


@dataclass(frozen=True)
class State:
    key: str
    lowers: tuple[str, ...]  # top first, the image last
    services: tuple[str, ...]


def spec_for(decl: MachineDecl, state: State, network: Network | None = None) -> MachineSpec:
    """How to boot a machine of the lab; in a networked lab it joins its node of `network`."""
    spec = MachineSpec(hostname=decl.hostname, domain=decl.domain, lowers=list(state.lowers),
                       memory_mb=decl.memory_mb, pids=decl.pids, disk_mb=decl.disk_mb, cpu=decl.cpu,
                       services=list(state.services))
    if network is not None:
        spec.netns = network.netns(decl.name)
        spec.address = decl.address
        dns = network.spec.dns_address()
        if dns:
            spec.resolv_conf = f"search {decl.domain}\nnameserver {dns}\n" if decl.domain else f"nameserver {dns}\n"
    return spec


@dataclass(frozen=True)
class Script:
    """A script run on a machine: its name (for messages) and its text."""
    name: str
    text: bytes


def solve_scripts(lab: Lab, step_id: str, machine: str, variant: Variant | None = None) -> list[Script]:
    """The reference solution of a step for one machine: solve/STEP.sh runs on the lab's first
    machine, solve/STEP@NAME.sh on machine NAME. In a lab with a pool, each drawn fault's own part
    (faults/ID/STEP.sh) runs first."""
    faults = _fault_scripts(lab, step_id, machine, variant)
    return faults + _scripts(lab.dir / "solve", step_id, lab, machine, variant)


def setup_scripts(lab: Lab, machine: str, variant: Variant | None = None) -> list[Script]:
    """What a lab does to a machine before its first step, on top of the state it starts from:
    setup.sh on the lab's first machine, setup@NAME.sh on machine NAME (e.g. users an earlier lab
    made). In a lab with a pool, the drawn faults are planted next (faults/ID/plant.sh), then
    start.sh runs (e.g. starting the services the faults were planted around)."""
    return (_scripts(lab.dir, "setup", lab, machine, variant) + _fault_scripts(lab, "plant", machine, variant)
            + (_scripts(lab.dir, "start", lab, machine, variant) if lab.pool else []))


def _scripts(folder: Path, stem: str, lab: Lab, machine: str, variant: Variant | None) -> list[Script]:
    default = lab.machines[0].name
    path = folder / (f"{stem}.sh" if machine == default else f"{stem}@{machine}.sh")
    return [_script(path, lab, variant)] if path.is_file() else []


def _fault_scripts(lab: Lab, stem: str, machine: str, variant: Variant | None) -> list[Script]:
    drawn = variant.drawn if variant is not None else ()
    return [s for fault in drawn for s in _scripts(lab.dir / "faults" / fault, stem, lab, machine, variant)]


def _script(path: Path, lab: Lab, variant: Variant | None) -> Script:
    name = str(path.relative_to(lab.dir))
    text = path.read_bytes()
    return Script(name, variant.script_prefix() + text if variant is not None else text)


def run_scripts(scripts: list[Script], machine: Machine, timeout: float = 300) -> None:
    for script in scripts:
        done = machine.exec(["/bin/bash", "-s"], input=script.text, timeout=timeout)
        if done.returncode != 0:
            tail = (done.err or done.out).strip().splitlines()[-3:]
            raise MailLabError(_("The script {script} failed (exit {code}): {output}",
                                 script=script.name, code=done.returncode, output=" / ".join(tail)))


def run_solution(lab: Lab, step_id: str, machine: Machine, machine_name: str, timeout: float = 300,
                 variant: Variant | None = None) -> None:
    run_scripts(solve_scripts(lab, step_id, machine_name, variant), machine, timeout)


def state_at(lab: Lab, step_index: int, machine_name: str | None = None, *, quiet: bool = True,
             variant: Variant | None = None) -> State:
    """The state a machine of `lab` is in at the start of step number `step_index` (0-based;
    len(steps) means the lab is finished). `variant`: the learner's own copy of a per-learner lab."""
    decl = lab.machine(machine_name)
    if step_index == 0:
        if lab.starts_after:
            before = course.find(lab.starts_after)
            # A lab made for each learner is the base of a later lab in one neutral variant.
            base = state_at(before, len(before.steps), _machine_in(before, decl.name), quiet=quiet,
                            variant=course.variant_for(before, ""))
        else:
            root = image.ensure_image(quiet=quiet)
            base = State(key=image.recipe_key(), lowers=(str(root),), services=())
        return _layer(lab, decl, base, setup_scripts(lab, decl.name, variant), "setup", quiet)
    parent = state_at(lab, step_index - 1, decl.name, quiet=quiet, variant=variant)
    step = lab.steps[step_index - 1]
    return _layer(lab, decl, parent, solve_scripts(lab, step.id, decl.name, variant), step.id, quiet)


def _layer(lab: Lab, decl: MachineDecl, parent: State, scripts: list[Script], after: str, quiet: bool) -> State:
    """`parent` with `scripts` applied, frozen once as a cached layer."""
    if not scripts:
        return parent  # nothing to do on this machine
    digest = hashlib.sha256(f"{LAYER_FORMAT}\n{parent.key}\n{decl}\n".encode())
    for script in scripts:
        digest.update(script.text)
    key = digest.hexdigest()[:16]
    layer = paths.layers_dir() / key
    if not (layer / "layer.json").is_file():
        if not quiet:
            if after == "setup":
                said = tr("Preparing the starting state: setting up {lab} on {machine} "
                          "(once; it is kept for next time)...", lab=lab.id, machine=decl.name)
            else:
                said = tr("Preparing the starting state: applying the solution of {step} on {machine} "
                          "(once; it is kept for next time)...", step=f"{lab.id}/{after}", machine=decl.name)
            print(said, file=sys.stderr, flush=True)
        _build_layer(lab, after, scripts, decl, parent, layer, key)
    meta = json.loads((layer / "layer.json").read_text())
    return State(key=key, lowers=(str(layer / "fs"), *parent.lowers), services=tuple(meta["services"]))


def _machine_in(lab: Lab, name: str) -> str | None:
    return name if any(m.name == name for m in lab.machines) else None


def _build_layer(lab: Lab, step_id: str, scripts: list[Script], decl: MachineDecl, parent: State, layer: Path,
                 key: str) -> None:
    work = paths.layers_dir() / f".build-{key}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    builder = Machine(f"layer-{key}-{os.getpid()}")
    # A machine of a networked lab is prepared in a network of its own, the same as the lab's.
    network = Network(builder.name) if lab.network else None
    try:
        if network is not None:
            network = Network.create(network.name, lab.network)
        spec = spec_for(decl, parent, network)
        spec.disk_mb = 0  # on the host's disk: freezing is a rename, no copy
        builder = Machine.create(builder.name, spec)
        run_scripts(scripts, builder)
        services = builder.freeze(work / "fs")
        queuefiles.renumber(work / "fs", list(parent.lowers))
    except SandboxError as exc:
        raise MailLabError(_("Could not prepare the starting state after step {step} of {lab}: {error}",
                             step=step_id, lab=lab.id, error=say(exc))) from None
    finally:
        builder.destroy()
        if network is not None:
            network.destroy()
    (work / "layer.json").write_text(json.dumps({"lab": lab.id, "after_step": step_id, "machine": decl.name,
                                                 "parent": parent.key, "services": services}, indent=2))
    try:
        os.rename(work, layer)
    except OSError:  # someone else built the same layer meanwhile: theirs is as good as ours
        shutil.rmtree(work, ignore_errors=True)
