import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MAILLAB_LABS", str(ROOT / "labs"))

# Runs side by side name their selftest machines apart (`maillab selftest` itself runs labs at once).
if os.environ.get("MAILLAB_TEST_LEARNER"):
    os.environ.setdefault("MAILLAB_SELFTEST_LEARNER", os.environ["MAILLAB_TEST_LEARNER"] + "-selftest")


def pytest_collection_modifyitems(config, items):
    """Tests that need real machines cannot run without root: say so instead of failing oddly."""
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (real lab machines)")
    for item in items:
        if "machine" in item.keywords:
            item.add_marker(skip)
