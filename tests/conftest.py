import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MAILLAB_LABS", str(ROOT / "labs"))

# `./maillab test` runs most modules side by side in a few processes (pytest-xdist): each names its
# learners apart, so no two processes ever share a machine, a network or a gradebook row.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if WORKER.startswith("gw"):
    os.environ["MAILLAB_TEST_LEARNER"] = os.environ.get("MAILLAB_TEST_LEARNER", "t") + "-w" + WORKER[2:]
    os.environ["MAILLAB_LEARNER"] = os.environ["MAILLAB_TEST_LEARNER"] + "-cli"
    os.environ["MAILLAB_SELFTEST_LEARNER"] = os.environ["MAILLAB_TEST_LEARNER"] + "-selftest"

# These run alone, after the rest: a workshop makes system users and a room of JupyterLabs, and the
# fairness tests measure CPU shares, which other tests' load would blur.
SERIAL = ("tests/workshop/", "tests/hardening/test_fairness.py")


@pytest.hookimpl(tryfirst=True)  # marked before `-m` deselects
def pytest_collection_modifyitems(config, items):
    """Tests that need real machines cannot run without root: say so instead of failing oddly."""
    for item in items:
        if any(part in item.nodeid for part in SERIAL):
            item.add_marker(pytest.mark.serial)
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (real lab machines)")
    for item in items:
        if "machine" in item.keywords:
            item.add_marker(skip)
