"""One real `maillab up` per test module, and Debian's Chromium driven by Playwright."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.session import LabSession, open_lab

from .jupyterlab import CHROMIUM, launch_browser, start_server

LEARNER = "browser"


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"needs Debian's Chromium ({CHROMIUM}): `apt-get install chromium`")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="module")
def learner_env(tmp_path_factory):
    """This module's own learner and gradebook, for the server and for the test's own look-ups."""
    env = {"MAILLAB_LEARNER": LEARNER,
           "MAILLAB_GRADEBOOK": str(tmp_path_factory.mktemp("gradebook") / "gradebook.sqlite")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield {**os.environ, **env}


@pytest.fixture(scope="module")
def lab02(learner_env) -> LabSession:
    session = open_lab("install-postfix", LEARNER)
    session.reset()  # a fresh machine: the learner has done nothing yet
    yield session
    for machine in session.machines():
        machine.destroy()


@pytest.fixture(scope="module")
def course(lab02, learner_env, tmp_path_factory):
    """`maillab up` serving a fresh workspace; stopped (and checked for tracebacks) at the end."""
    server = start_server(tmp_path_factory.mktemp("course") / "workspace", learner_env)
    yield server
    output = server.stop()
    assert "Traceback" not in output, output


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = launch_browser(playwright, tmp_path_factory.mktemp("chromium-profile"))
        context.set_default_timeout(30_000)
        yield context
        context.close()
