import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MAILLAB_LABS", str(ROOT / "labs"))


def pytest_collection_modifyitems(config, items):
    """Tests that need real machines cannot run without root: say so instead of failing oddly."""
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (real lab machines)")
    for item in items:
        if "machine" in item.keywords:
            item.add_marker(skip)
