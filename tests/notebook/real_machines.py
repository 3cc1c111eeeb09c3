"""The real lab the notebook tests with machines start from."""
from __future__ import annotations

import os
from contextlib import contextmanager

import pytest


@contextmanager
def real_lab(tmp_path_factory, learner: str, step: str | None = None):
    """install-postfix on a real machine, reset to the start of `step`, with its own gradebook."""
    if os.geteuid() != 0:
        pytest.skip("lab machines need root")
    from classroom.session import open_session

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MAILLAB_GRADEBOOK", str(tmp_path_factory.mktemp("gradebook") / "gradebook.sqlite"))
        lab = open_session("install-postfix", learner)
        lab.reset(step)
        try:
            yield lab
        finally:
            for machine in lab.machines():
                machine.destroy()
