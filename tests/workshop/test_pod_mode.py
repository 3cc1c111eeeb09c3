"""The grader service in a pod per learner (Kubernetes): one learner, known by uid alone."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from classroom.gradebook import Gradebook
from grader.result import ItemResult, Status, StepResult
from workshop import client
from workshop.service import GraderService


@pytest.fixture
def pod_service(tmp_path, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("needs root (the service asks the kernel who connected)")
    monkeypatch.setenv("MAILLAB_POD_LEARNER", "podlearner")
    monkeypatch.setenv("MAILLAB_POD_UID", "65534")
    monkeypatch.setenv("MAILLAB_GRADEBOOK", str(tmp_path / "gradebook.sqlite"))
    book = Gradebook(tmp_path / "gradebook.sqlite")
    book.record("podlearner", StepResult("install-postfix", "install",
                                         (ItemResult("c", "C", Status.FAIL, "saw", "hint"),), "2026-11-30T10:00:00+00:00"))
    run = Path(tempfile.mkdtemp(prefix="maillab-pod-test-", dir="/run"))  # reachable by nobody, unlike tmp_path
    path = run / "grader.sock"
    server = GraderService(path, "-")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()
    shutil.rmtree(run, ignore_errors=True)


def test_the_pods_uid_is_served_as_the_pods_learner(pod_service):
    code = ("from pathlib import Path\nfrom workshop.client import call\n"
            f"print(call('progress', path=Path({str(pod_service)!r}), lab='install-postfix')['install']['attempts'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, user=65534, group=65534,
                          cwd="/", timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": os.environ.get("PYTHONPATH", "")})
    assert done.stdout.strip() == "1", done.stdout + done.stderr


def test_any_other_uid_is_refused_in_a_pod(pod_service):
    with pytest.raises(Exception, match=r"This account \(uid 0\) is not a learner"):
        client.call("progress", path=pod_service, lab="install-postfix")
