"""A real workshop for the tests: `maillab workshop up` on a free loopback port, a real JupyterHub,
real system users. Everything it makes is named with PREFIX and removed afterwards: users and
their homes, the group, the learners' machines, the hub's state, its processes."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from workshop.hubclient import Hub, Kernel
from workshop.settings import free_ports, proxy_command
from workshop.users import remove_users

# Runs side by side name their users apart (a short lowercase prefix; usernames stay short).
PREFIX = os.environ.get("MAILLAB_TEST_WORKSHOP_PREFIX", "mltws")
GROUP = f"{PREFIX}-learners"
INSTRUCTOR = f"{PREFIX}teach"
LEARNERS = [f"{PREFIX}l{n:02d}" for n in range(10)]
LAB = "install-postfix"
MAILLAB = str(Path(sys.executable).with_name("maillab"))


def pytest_collection_modifyitems(config, items):
    reasons = []
    if os.geteuid() != 0:
        reasons.append("needs root (system users, lab machines)")
    if not proxy_command().exists():
        reasons.append(f"needs configurable-http-proxy ({proxy_command()}; `./maillab` installs it)")
    for item in items:
        if "tests/workshop" in str(item.fspath) and "room" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.workshop)
            if reasons:
                item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


@dataclass
class Room:
    url: str
    hub: Hub
    env: dict
    state: Path
    gradebook: Path
    password: str
    instructor_password: str
    kernels: dict[str, Kernel] = field(default_factory=dict)
    spawn_seconds: dict[str, float] = field(default_factory=dict)

    def maillab(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([MAILLAB, *args], capture_output=True, text=True, timeout=timeout, env=self.env)

    def kernel(self, learner: str) -> Kernel:
        if learner not in self.kernels:
            self.kernels[learner] = Kernel(self.hub, learner, self.hub.user_token(learner))
        return self.kernels[learner]


def clean_up(state: Path | None = None) -> None:
    """Remove every user, group, machine and socket folder the workshop tests make."""
    remove_users(PREFIX, GROUP)
    if state is not None:
        from workshop import settings

        os.environ[settings.DIR_ENV] = str(state)
        try:
            shutil.rmtree(settings.run_dir(), ignore_errors=True)
        finally:
            os.environ.pop(settings.DIR_ENV, None)


@pytest.fixture(scope="session")
def room(tmp_path_factory):
    clean_up()
    base = tmp_path_factory.mktemp("workshop")
    state = base / "hub"
    gradebook = base / "gradebook.sqlite"
    env = {**os.environ, "MAILLAB_WORKSHOP_DIR": str(state), "MAILLAB_GRADEBOOK": str(gradebook)}
    password = secrets.token_hex(8)
    port, = free_ports(1)
    up = subprocess.run([MAILLAB, "workshop", "up", "--seats", "30", "--port", str(port), "--group", GROUP,
                         "--instructor", INSTRUCTOR, "--password", password, "--idle-timeout", "0",
                         "--concurrent-spawns", "10"], capture_output=True, text=True, timeout=300, env=env)
    try:
        assert up.returncode == 0, up.stderr + up.stdout
        instructor_password = up.stdout.split("log in with the password: ")[-1].split()[0]
        url = f"http://127.0.0.1:{port}/"
        hub = Hub(url, (state / "admin_token").read_text().strip())
        room = Room(url, hub, env, state, gradebook, password, instructor_password)
        yield room
    finally:
        for kernel in list(locals().get("room", Room("", None, {}, state, gradebook, "", "")).kernels.values()):
            try:
                kernel.ws.close()
            except Exception:
                pass
        subprocess.run([MAILLAB, "workshop", "down"], capture_output=True, text=True, timeout=120, env=env)
        clean_up(state)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def learners(room):
    """Ten learners made through the hub's REST API, their servers started all at once."""
    room.hub.create_users(LEARNERS)
    began = time.monotonic()
    with ThreadPoolExecutor(len(LEARNERS)) as pool:
        for name, seconds in zip(LEARNERS, pool.map(room.hub.start_server, LEARNERS)):
            room.spawn_seconds[name] = seconds
    room.spawn_seconds["all"] = time.monotonic() - began
    return LEARNERS


CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser_page(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (`./maillab test` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=str(CHROMIUM),
                                                       headless=True, args=ARGS)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def wait_for(page, selector: str, shot: Path, timeout: float = 30) -> None:
    """Wait for selector; on failure say what the page showed instead."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_selector(selector, timeout=timeout * 1000)
    except PlaywrightTimeout:
        page.screenshot(path=str(shot), full_page=True)
        pytest.fail(f"{selector} did not appear at {page.url}; the page showed: {page.inner_text('body')[:1500]}")
