"""One real `maillab up` per test module, and Debian's Chromium driven by Playwright."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from classroom.session import LabSession, open_session

from .jupyterlab import CHROMIUM, launch_browser, start_server

LEARNER = os.environ.get("MAILLAB_TEST_LEARNER", "browser")  # runs side by side use their own


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"needs Debian's Chromium ({CHROMIUM}): `apt-get install chromium`")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


def learner_environment(tmp_path_factory, learner: str):
    """A learner and gradebook of their own, for the server and for the test's own look-ups."""
    env = {"MAILLAB_LEARNER": learner,
           "MAILLAB_GRADEBOOK": str(tmp_path_factory.mktemp("gradebook") / "gradebook.sqlite")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield {**os.environ, **env}


@pytest.fixture(scope="module")
def learner_env(tmp_path_factory):
    """This module's own learner and gradebook."""
    yield from learner_environment(tmp_path_factory, LEARNER)


@pytest.fixture(scope="module")
def lab02(learner_env) -> LabSession:
    session = open_session("install-postfix", LEARNER)
    session.reset()  # a fresh machine: the learner has done nothing yet
    yield session
    for machine in session.machines():
        machine.destroy()


def tracebacks(log: str) -> list[str]:
    """The Python tracebacks in a server log, each with the line that ends it."""
    found = []
    for block in log.split("Traceback (most recent call last):")[1:]:
        lines = block.splitlines()
        end = next((i for i, line in enumerate(lines) if line and not line.startswith(" ")), len(lines) - 1)
        found.append("Traceback (most recent call last):" + "\n".join(lines[: end + 1]))
    return found


@pytest.fixture(scope="module")
def course(lab02, learner_env, tmp_path_factory):
    """`maillab up` serving a fresh workspace; stopped at the end, its log checked for tracebacks:
    one through MailLab's own code fails the module, JupyterLab's own are reported as warnings."""
    server = start_server(tmp_path_factory.mktemp("course") / "workspace", learner_env)
    yield server
    found = tracebacks(server.stop())
    ours = [t for t in found if any(part in t for part in ("/grader/", "/sandbox/", "/labs/"))]
    assert not ours, "\n\n".join(ours)
    for other in found:
        warnings.warn(f"JupyterLab logged a traceback: {other[-600:]}")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = launch_browser(playwright, tmp_path_factory.mktemp("chromium-profile"))
        context.set_default_timeout(30_000)
        yield context
        context.close()
