"""Learners' servers forked from workshop.forkserver: each becomes its learner entirely (ids,
groups, environment, descriptors), and the fork server refuses what a server must never be."""
from __future__ import annotations

import json
import os
import pwd
import socket
import subprocess
import sys
import time
from pathlib import Path

from workshop.users import processes_of

ROOT = Path(__file__).resolve().parents[2]


def _status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def test_each_learners_server_is_forked_and_is_only_the_learner(room, learners):
    for learner in learners[:3]:
        user = pwd.getpwnam(learner)
        servers = [pid for pid in processes_of(user.pw_uid) if b"workshop.forkserver" in _cmdline(pid)]
        assert len(servers) == 1, f"{learner}: {servers}"  # forked, not started the usual way
        pid = servers[0]
        status = _status(pid)
        assert status["Uid"].split() == [str(user.pw_uid)] * 4
        assert status["Gid"].split() == [str(user.pw_gid)] * 4
        assert sorted(int(g) for g in status["Groups"].split()) == sorted(set(os.getgrouplist(learner, user.pw_gid)))
        assert "0" not in status["Groups"].split()
        assert status["CapEff"] == "0" * 16
        parent = int(status["PPid"])
        assert b"workshop.forkserver" in _cmdline(parent) and os.stat(f"/proc/{parent}").st_uid == 0
        assert os.readlink(f"/proc/{pid}/cwd") == user.pw_dir
        assert os.readlink(f"/proc/{pid}/fd/0") == os.devnull
        # nothing of the fork server's is left open in the learner's server
        listening = {os.readlink(f"/proc/{parent}/fd/{fd}") for fd in os.listdir(f"/proc/{parent}/fd")}
        mine = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        assert not ({link for link in listening if link.startswith("socket:")} & mine)
    # The server's environment is the one the hub gave it (its kernels inherit it), nothing of the
    # fork server's (/proc/PID/environ shows the fork server's: it is the environment at exec).
    out, error = room.kernel(learners[0]).run(
        "import os\nprint(os.environ.get('JUPYTERHUB_USER'), os.environ.get('HOME'), "
        "'JUPYTERHUB_API_TOKEN' in os.environ, os.getuid())")
    assert not error
    assert out.split() == [learners[0], pwd.getpwnam(learners[0]).pw_dir, "True",
                           str(pwd.getpwnam(learners[0]).pw_uid)]


def _ask(path: Path, request: bytes) -> dict:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(path))
        sock.sendall(request)
        reply = sock.makefile("rb").readline()
    return json.loads(reply) if reply else {}


def test_the_fork_server_refuses_root_and_nonsense_and_carries_on(tmp_path, learners):
    path = tmp_path / "fork.sock"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": "/"}
    proc = subprocess.Popen([sys.executable, "-m", "workshop.forkserver", str(path)], stdin=subprocess.PIPE,
                            env=env, cwd="/")
    try:
        deadline = time.monotonic() + 60
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert path.stat().st_uid == 0 and path.stat().st_mode & 0o077 == 0  # root alone may ask for a server
        root = {"uid": 0, "gid": 0, "groups": [], "home": "/root", "env": {}, "argv": ["x"]}
        assert "never runs as root" in _ask(path, json.dumps(root).encode() + b"\n")["error"]
        assert "error" in _ask(path, b"not json\n")
        user = pwd.getpwnam(learners[9])
        unknown = {"uid": user.pw_uid, "gid": user.pw_gid, "groups": [user.pw_gid], "home": user.pw_dir,
                   "env": {}}  # no argv: the child refuses after becoming the learner; nothing runs
        assert "argv" in _ask(path, json.dumps(unknown).encode() + b"\n")["error"]
        assert proc.poll() is None  # still serving
    finally:
        proc.stdin.close()  # the hub's end: it goes
        proc.wait(timeout=30)
    assert not path.exists()
