"""Where the labs happen: the image, the machines and (later) their network.

This package knows nothing about labs or grading."""
from .errors import CommandTimeout, MachineNotRunning, SandboxError
from .machine import Machine, MachineSpec, all_machines
from .result import ExecResult

__all__ = ["CommandTimeout", "ExecResult", "Machine", "MachineNotRunning", "MachineSpec", "SandboxError", "all_machines"]
