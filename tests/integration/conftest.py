import os
import subprocess
import sys
from pathlib import Path

import pytest

from classroom.session import LabSession, open_session

# Runs side by side use their own; `maillab down` of this learner must never reach another module's
# machines (pytest--machine, pytest--notebook).
LEARNER = os.environ.get("MAILLAB_TEST_LEARNER", "pytest") + "-int"


@pytest.fixture(autouse=True)
def _own_learner_and_gradebook(tmp_path_factory, monkeypatch):
    """Tests use their own learner name and gradebook: a learner's machines and grades are never touched."""
    monkeypatch.setenv("MAILLAB_LEARNER", LEARNER)
    monkeypatch.setenv("MAILLAB_GRADEBOOK", str(tmp_path_factory.getbasetemp() / "gradebook.sqlite"))


@pytest.fixture
def lab02() -> LabSession:
    session = open_session("install-postfix", LEARNER)
    yield session
    for machine in session.machines():
        machine.destroy()


def maillab(*args, timeout=300, input=None, env_extra=None):
    """Run the real `maillab` command the way a user does."""
    exe = Path(sys.executable).with_name("maillab")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout, input=input,
                          env={**os.environ, "MAILLAB_LEARNER": LEARNER, **(env_extra or {})})


def sh(session: LabSession, script: str, timeout=120):
    done = session.machine().exec(["/bin/bash", "-c", script], timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"setup script failed ({done.returncode}): {done.err or done.out}")
    return done
