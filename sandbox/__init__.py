"""Where the labs happen: the image, the machines and their network.

This package knows nothing about labs or grading. Its names are imported when first used, so a
process that needs one part (a remote mail server) starts without loading the rest."""
from __future__ import annotations

import importlib

_WHERE = {"CommandTimeout": "errors", "MachineNotRunning": "errors", "SandboxError": "errors",
          "Machine": "machine", "MachineSpec": "machine", "all_machines": "machine", "ExecResult": "result"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
