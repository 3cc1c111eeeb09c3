"""The learner's saved state: who they are, the lab they started last, the language they chose.
One small JSON file per learner, replaced atomically. A leaf: it imports nothing of the grader."""
from __future__ import annotations

import getpass
import json
import os
import re
from pathlib import Path

from sandbox import paths


def current_learner() -> str:
    name = os.environ.get("MAILLAB_LEARNER") or getpass.getuser()
    return re.sub(r"[^a-z0-9_-]", "-", name.lower())[:32] or "learner"


def state_file(learner: str) -> Path:
    return paths.home() / "learners" / f"{learner}.json"


def read_state(learner: str | None = None) -> dict:
    try:
        state = json.loads(state_file(learner or current_learner()).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def update_state(learner: str, **values: str) -> None:
    """Keep `values` in the learner's state file (one atomic rename; other values stay)."""
    path = state_file(learner)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**read_state(learner), **values}))
    os.replace(tmp, path)


def current_lab(learner: str | None = None) -> str | None:
    """The lab this learner started last (what `maillab exec` and `maillab shell` enter)."""
    lab = read_state(learner).get("lab")
    return lab if isinstance(lab, str) else None


def saved_language(learner: str | None = None) -> str | None:
    """The language the learner chose (`maillab up --lang`), if any."""
    lang = read_state(learner).get("lang")
    return lang if isinstance(lang, str) else None


def save_language(lang: str, learner: str | None = None) -> None:
    update_state(learner or current_learner(), lang=lang)


MODES = ("guided", "challenge")
MODE_ENV = "MAILLAB_MODE"  # a workshop's choice for its learners (`maillab workshop up --mode`)


def saved_mode(learner: str | None = None) -> str | None:
    """The mode the learner chose (`maillab up --mode`), if any."""
    mode = read_state(learner).get("mode")
    return mode if mode in MODES else None


def save_mode(mode: str, learner: str | None = None) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    update_state(learner or current_learner(), mode=mode)


def mode(learner: str | None = None) -> str:
    """How a step's how-to is shown: a workshop's choice, else the learner's, else guided.
    guided: at once, as text to read and type; challenge: closed until the learner asks."""
    chosen = os.environ.get(MODE_ENV)
    if chosen in MODES:
        return chosen
    return saved_mode(learner) or "guided"
