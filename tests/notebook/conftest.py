"""Fixtures for the notebook tests."""
from __future__ import annotations

import pytest

from grader.notebook import shell
from notebook_fakes import FakeMachine


@pytest.fixture
def fake_machine():
    return FakeMachine()


@pytest.fixture(autouse=True)
def no_machine_attached():
    shell.use_machine(None)
    yield
    shell.use_machine(None)

