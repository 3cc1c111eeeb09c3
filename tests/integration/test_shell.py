"""`maillab shell`: an interactive root shell inside the machine, through a real terminal."""
import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest

from .conftest import LEARNER

pytestmark = pytest.mark.machine


def run_in_pty(argv, keys: bytes, timeout=20) -> str:
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["MAILLAB_LEARNER"] = LEARNER
        os.environ["TERM"] = "xterm"
        os.execv(argv[0], argv)
    output = b""
    os.write(fd, keys)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the shell exited and the terminal closed
            break
        if not chunk:
            break
        output += chunk
    os.waitpid(pid, 0)
    return output.decode(errors="replace")


def test_shell_is_root_on_the_machine_with_its_name_in_the_prompt(lab02):
    lab02.reset("install")
    maillab = str(Path(sys.executable).with_name("maillab"))
    out = run_in_pty([maillab, "shell"], b"id -un; hostname --fqdn; echo TERM=$TERM; exit 3\n")
    assert "root@mail:" in out          # the prompt names the machine
    assert "mail.example.test" in out
    assert "TERM=xterm" in out
    assert "MAILLAB_LEARNER" not in run_in_pty([maillab, "shell"], b"env; exit\n")
