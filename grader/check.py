"""Declaring checks: the @check decorator, the Fail exception, and loading a lab's checks.py."""
from __future__ import annotations

import importlib.util
import os
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import ChecksError, Fail  # noqa: F401 - Fail: older checks import it from here
from .i18n import _

# The decorator stores checks in the globals of the module that defines them, under this name,
# so loading one lab never leaks checks into another.
_REGISTRY_NAME = "__maillab_checks__"
_load_counter = itertools.count()






@dataclass(frozen=True)
class Check:
    name: str
    title: str
    step: str
    hint: str
    func: Callable[[Any], object]
    within: float = 0.0
    more_hints: tuple[str, ...] = ()  # later rungs of the hint ladder

    @property
    def ladder(self) -> tuple[str, ...]:
        """The hints a learner climbs, one rung per earlier FAIL of this check: the symptom first,
        then where to look, then what is wrong."""
        return (self.hint, *self.more_hints)

    def __call__(self, host: Any) -> object:
        return self.func(host)


def title_from_name(name: str) -> str:
    words = name.strip("_").replace("_", " ")
    return words[:1].upper() + words[1:]


def check(*, step: str, hint: str, title: str | None = None, within: float = 0.0,
          more_hints: Sequence[str] = ()) -> Callable[[Callable[[Any], object]], Check]:
    """Declare a check for `step`. `within` > 0: retry until it passes or that many seconds pass.
    `more_hints`: the ladder's later rungs, shown after the first, second, ... FAIL of this check
    (a Fail that carries a hint of its own shows that one instead)."""
    if not isinstance(step, str) or not step:
        raise ChecksError(_("@check needs step= as a non-empty string."))
    if not isinstance(hint, str) or not hint.strip():
        raise ChecksError(_("@check needs hint= telling the learner what to do."))
    if isinstance(more_hints, str) or any(not isinstance(h, str) or not h.strip() for h in more_hints):
        raise ChecksError(_("@check more_hints= is a list of hints, each telling the learner more."))
    if within < 0:
        raise ChecksError(_("@check within= must be zero or a positive number of seconds."))

    def register(func: Callable[[Any], object]) -> Check:
        chk = Check(name=func.__name__, title=title or title_from_name(func.__name__),
                    step=step, hint=hint, func=func, within=float(within), more_hints=tuple(more_hints))
        registry = func.__globals__.setdefault(_REGISTRY_NAME, [])
        if any(c.step == step and c.name == chk.name for c in registry):
            raise ChecksError(_("Step {step} declares two checks named {name}.", step=repr(step), name=repr(chk.name)))
        registry.append(chk)
        return chk

    return register


def checks_of_module(module_globals: dict[str, Any]) -> dict[str, list[Check]]:
    by_step: dict[str, list[Check]] = {}
    for chk in module_globals.get(_REGISTRY_NAME, []):
        by_step.setdefault(chk.step, []).append(chk)
    return by_step


_loaded: dict[tuple[str, int], dict[str, list[Check]]] = {}


def checks_of(path: str | Path) -> dict[str, list[Check]]:
    """load_checks, kept while the file is unchanged (an author's edit is seen at the next call)."""
    try:
        key = (str(path), os.stat(path).st_mtime_ns)
    except OSError:
        return load_checks(path)
    if key not in _loaded:
        if len(_loaded) > 64:
            _loaded.clear()
        _loaded[key] = load_checks(path)
    return _loaded[key]


def load_checks(path: str | Path) -> dict[str, list[Check]]:
    """Import a checks.py by path (a fresh module every call) and return its checks per step."""
    path = Path(path)
    if not path.is_file():
        raise ChecksError(_("There is no checks file at {path}.", path=str(path)))
    module_name = f"maillab_checks_{next(_load_counter)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ChecksError(_("Python cannot import {path} as a module.", path=str(path)))
    module = importlib.util.module_from_spec(spec)
    # Present in sys.modules only while it runs: dataclasses and pickling look it up there.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except ChecksError:
        raise
    except Exception as exc:
        raise ChecksError(_("Loading {path} failed: {error}", path=str(path),
                            error=f"{type(exc).__name__}: {exc}")) from exc
    finally:
        sys.modules.pop(module_name, None)
    return checks_of_module(vars(module))
