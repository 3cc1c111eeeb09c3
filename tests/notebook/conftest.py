"""Fixtures for the notebook tests."""
from __future__ import annotations

import pytest

from grader import i18n
from classroom.notebook import shell
from notebook_fakes import FakeMachine


@pytest.fixture
def fake_machine():
    return FakeMachine()


@pytest.fixture(autouse=True)
def no_machine_attached():
    shell.use_machine(None)
    yield
    shell.use_machine(None)



@pytest.fixture(autouse=True)
def english(monkeypatch):
    """The tests read the English text: whatever the host's locale or a saved choice says."""
    monkeypatch.setenv("MAILLAB_LANG", "en")
    i18n.use(None)
    yield
    i18n.use(None)
