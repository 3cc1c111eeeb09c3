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
# Side by side, a module runs whole in one process (its module fixtures are made once); these long
# modules of tests per lab are shared out lab by lab instead.
PER_LAB = ("tests/course/test_course.py", "tests/course/test_promises.py", "tests/course/test_solve_after_reset.py")


@pytest.hookimpl(tryfirst=True)  # marked before `-m` deselects
def pytest_collection_modifyitems(config, items):
    """Each test's place in a run side by side (alone after the rest, or its group); and tests that need
    real machines cannot run without root: say so instead of failing oddly."""
    for item in items:
        module = item.nodeid.split("::")[0]
        if any(part in item.nodeid for part in SERIAL):
            item.add_marker(pytest.mark.serial)
        elif module in PER_LAB and hasattr(item, "callspec") and {"lab", "lab_id"} & set(item.callspec.params):
            lab = item.callspec.params.get("lab", item.callspec.params.get("lab_id"))
            item.add_marker(pytest.mark.xdist_group(f"{module}[{getattr(lab, 'id', lab)}]"))
        else:
            item.add_marker(pytest.mark.xdist_group(module))
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (real lab machines)")
    for item in items:
        if "machine" in item.keywords:
            item.add_marker(skip)
