"""The grader service's `files` op (workshop/files.py): a workshop learner's file browser reads and
writes their own machine's files, as its root, never following a link out of it, bounded in size;
any other learner's machine, lab or path is refused."""
from __future__ import annotations

import base64
import os
import socket
import threading

import pytest

from classroom.notebook.machine_files import MAX_OPEN
from grader.errors import UsageError
from sandbox import Machine, MachineSpec, image
from workshop import files, protocol

pytestmark = pytest.mark.machine

LAB = "install-postfix"
ME, OTHER = os.environ.get("MAILLAB_TEST_LEARNER", "fbA1") + "w1", os.environ.get("MAILLAB_TEST_LEARNER", "fbA1") + "w2"


@pytest.fixture(scope="module")
def machines():
    lowers = [str(image.ensure_image(quiet=True))]
    made = [Machine.create(f"{who}--{LAB}--mail", MachineSpec(lowers=lowers, userns=True)) for who in (ME, OTHER)]
    made[1].exec(["sh", "-c", "echo secret > /root/secret"])
    yield made
    for machine in made:
        machine.destroy()


def ask(learner: str, data: bytes | None = None, **request):
    """One `files` request as the service serves it; (reply, file bytes) or the exception raised."""
    mine, theirs = socket.socketpair()
    chunks = [] if data is None else [data[i:i + files.CHUNK] for i in range(0, len(data), files.CHUNK)]
    request = {"op": "files", "lab": LAB, "machine": "mail", "chunks": len(chunks), **request}
    box = {}

    def serve():
        try:
            files.serve(learner, request, protocol.Reader(mine), mine)
        except Exception as exc:  # noqa: BLE001 - the Handler turns it into a sentence
            box["error"] = exc
        finally:
            mine.shutdown(socket.SHUT_RDWR)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        for chunk in chunks:
            protocol.send(theirs, {"data": base64.b64encode(chunk).decode()})
    except OSError:
        pass
    reader = protocol.Reader(theirs)
    reply = reader.receive()
    parts = [base64.b64decode(reader.receive()["data"]) for _ in range((reply or {}).get("chunks", 0))]
    thread.join()
    mine.close()
    theirs.close()
    if "error" in box:
        return box["error"], None
    return reply, b"".join(parts) if parts else None


def test_a_learner_reads_lists_and_writes_their_own_machine_as_its_root(machines):
    mine = machines[0]
    reply, data = ask(ME, action="get", path="/etc/hostname", content=True)
    assert reply["ok"] and data == (mine.root / "etc/hostname").read_bytes()
    assert reply["result"]["made"] == mine.made
    reply, _ = ask(ME, action="get", path="/etc", content=True)
    assert "hostname" in [e["name"] for e in reply["result"]["entries"]]
    reply, _ = ask(ME, action="write", path="/root/new.cf", data=b"relayhost =\n", made=mine.made)
    assert reply["ok"] and reply["result"]["size"] == 12
    assert mine.exec(["stat", "-c", "%u:%g", "/root/new.cf"]).out.strip() == "0:0"
    assert mine.exec(["cat", "/root/new.cf"]).out == "relayhost =\n"
    assert ask(ME, action="mkdir", path="/root/d")[0]["ok"]
    assert ask(ME, action="rename", path="/root/new.cf", to="/root/d/new.cf")[0]["ok"]
    assert ask(ME, action="delete", path="/root/d")[0]["ok"]
    assert mine.exec(["test", "-e", "/root/d"]).returncode == 1
    labs, _ = ask(ME, action="labs")
    assert labs["result"] == [[LAB, ["mail"]]]


def test_another_learners_machine_is_never_reached(machines):
    other = machines[1]
    # Only the machine names the lab declares are taken, and only as the caller's own.
    for name in (other.name, f"../{other.name}", "mail/../../" + other.name):
        error, _ = ask(ME, action="get", machine=name, path="/root/secret", content=True)
        assert isinstance(error, UsageError), name
    error, _ = ask(ME, action="get", lab=f"../{LAB}", path="/root/secret", content=True)
    assert isinstance(error, UsageError) and "no lab called" in str(error)
    # `..` in the path stays inside the caller's machine (as in a chroot).
    reply, _ = ask(ME, action="get", path="/../../" + other.name + "/merged/root/secret", content=True)
    assert not reply["ok"] and reply["status"] == 404
    error, _ = ask(ME, action="get", path="root/secret", content=True)
    assert isinstance(error, protocol.ProtocolError)
    error, _ = ask(ME, action="chmod", path="/root")
    assert isinstance(error, protocol.ProtocolError)


def test_a_link_out_of_the_machine_is_refused_with_its_sentence(machines, tmp_path):
    mine = machines[0]
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "host-secret").write_text("host")
    mine.exec(["sh", "-c", f"ln -sfn {outside} /root/out && ln -sfn {outside}/host-secret /root/file"])
    for path in ("/root/file", "/root/out/host-secret"):
        reply, data = ask(ME, action="get", path=path, content=True)
        assert not reply["ok"] and "symbolic link" in reply["error"] and data is None, path
    reply, _ = ask(ME, action="write", path="/root/out/planted", data=b"x")
    assert not reply["ok"] and "symbolic link" in reply["error"]
    assert list(outside.iterdir()) == [outside / "host-secret"]
    reply, _ = ask(ME, action="get", path="/root/file", content=False)  # listed, never followed
    assert reply["ok"] and reply["result"]["kind"] == "link"


def test_too_big_files_and_a_save_after_a_reset_are_refused(machines):
    mine = machines[0]
    mine.exec(["sh", "-c", f"head -c {MAX_OPEN + 1} /dev/zero > /root/big"])
    reply, data = ask(ME, action="get", path="/root/big", content=True)
    assert not reply["ok"] and "too big to open" in reply["error"] and data is None
    reply, _ = ask(ME, action="write", path="/root/huge", data=b"x" * (MAX_OPEN + 1))
    assert not reply["ok"] and "too big to save" in reply["error"]
    assert mine.exec(["test", "-e", "/root/huge"]).returncode == 1
    # The biggest file that opens crosses the socket whole, in messages under the protocol's limit.
    mine.exec(["sh", "-c", f"head -c {MAX_OPEN} /dev/urandom > /root/max"])
    reply, data = ask(ME, action="get", path="/root/max", content=True)
    assert reply["ok"] and data == (mine.root / "root/max").read_bytes()
    reply, _ = ask(ME, action="write", path="/root/hostname", data=b"x\n", made="an earlier machine")
    assert not reply["ok"] and reply["status"] == 409 and "was reset after you opened" in reply["error"]


def test_a_stopped_machine_shows_an_empty_folder_and_is_not_written(machines):
    mine = machines[0]
    mine.stop()
    try:
        reply, _ = ask(ME, action="get", path="/etc", content=True)
        assert reply["ok"] and reply["result"]["entries"] == []
        reply, _ = ask(ME, action="write", path="/root/x", data=b"x")
        assert not reply["ok"] and reply["status"] == 409 and "is not running" in reply["error"]
    finally:
        mine.start()
