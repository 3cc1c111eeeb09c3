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

from . import lab as labs
from .errors import MailLabError
from .lab import Lab, MachineDecl


@dataclass(frozen=True)
class State:
    key: str
    lowers: tuple[str, ...]  # top first, the image last
    services: tuple[str, ...]


def spec_for(decl: MachineDecl, state: State, network: Network | None = None) -> MachineSpec:
    """How to boot a machine of the lab; in a networked lab it joins its node of `network`."""
    spec = MachineSpec(hostname=decl.hostname, domain=decl.domain, lowers=list(state.lowers),
                       memory_mb=decl.memory_mb, pids=decl.pids, disk_mb=decl.disk_mb,
                       services=list(state.services))
    if network is not None:
        spec.netns = network.netns(decl.name)
        spec.address = decl.address
        dns = network.spec.dns_address()
        if dns:
            spec.resolv_conf = f"search {decl.domain}\nnameserver {dns}\n" if decl.domain else f"nameserver {dns}\n"
    return spec


def solve_scripts(lab: Lab, step_id: str, machine: str) -> list[Path]:
    """The reference solution of a step for one machine: solve/STEP.sh runs on the lab's first
    machine, solve/STEP@NAME.sh on machine NAME."""
    default = lab.machines[0].name
    path = lab.dir / "solve" / (f"{step_id}.sh" if machine == default else f"{step_id}@{machine}.sh")
    return [path] if path.is_file() else []


def run_solution(lab: Lab, step_id: str, machine: Machine, machine_name: str, timeout: float = 300) -> None:
    for script in solve_scripts(lab, step_id, machine_name):
        done = machine.exec(["/bin/bash", "-s"], input=script.read_bytes(), timeout=timeout)
        if done.returncode != 0:
            tail = (done.err or done.out).strip().splitlines()[-3:]
            raise MailLabError(f"The reference solution {script.name} failed (exit {done.returncode}): {' / '.join(tail)}")


def state_at(lab: Lab, step_index: int, machine_name: str | None = None, *, quiet: bool = True) -> State:
    """The state a machine of `lab` is in at the start of step number `step_index` (0-based;
    len(steps) means the lab is finished)."""
    decl = lab.machine(machine_name)
    if step_index == 0:
        if lab.starts_after:
            before = labs.find(lab.starts_after)
            return state_at(before, len(before.steps), _machine_in(before, decl.name), quiet=quiet)
        root = image.ensure_image(quiet=quiet)
        return State(key=image.recipe_key(), lowers=(str(root),), services=())
    parent = state_at(lab, step_index - 1, decl.name, quiet=quiet)
    step = lab.steps[step_index - 1]
    scripts = solve_scripts(lab, step.id, decl.name)
    if not scripts:
        return parent  # nothing to do on this machine in that step
    digest = hashlib.sha256(f"{parent.key}\n{decl}\n".encode())
    for script in scripts:
        digest.update(script.read_bytes())
    key = digest.hexdigest()[:16]
    layer = paths.layers_dir() / key
    if not (layer / "layer.json").is_file():
        if not quiet:
            print(f"Preparing the starting state: applying the solution of {lab.id}/{step.id} on "
                  f"{decl.name} (once; it is kept for next time)...", file=sys.stderr, flush=True)
        _build_layer(lab, step.id, decl, parent, layer, key)
    meta = json.loads((layer / "layer.json").read_text())
    return State(key=key, lowers=(str(layer / "fs"), *parent.lowers), services=tuple(meta["services"]))


def _machine_in(lab: Lab, name: str) -> str | None:
    return name if any(m.name == name for m in lab.machines) else None


def _build_layer(lab: Lab, step_id: str, decl: MachineDecl, parent: State, layer: Path, key: str) -> None:
    work = paths.layers_dir() / f".build-{key}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    builder = Machine(f"layer-{key}-{os.getpid()}")
    # A machine of a networked lab is prepared in a network of its own, the same as the lab's.
    network = Network(builder.name) if lab.network else None
    try:
        if network is not None:
            network = Network.create(network.name, lab.network)
        builder = Machine.create(builder.name, spec_for(decl, parent, network))
        run_solution(lab, step_id, builder, decl.name)
        services = builder.freeze(work / "fs")
    except SandboxError as exc:
        raise MailLabError(f"Could not prepare the starting state after step {step_id} of {lab.id}: {exc}") from None
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
