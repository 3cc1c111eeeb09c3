"""A room of ten learners on a real JupyterHub: each works on their own machine, as their own uid,
through the root grader service; nobody reaches anybody else's machine or the gradebook."""
from __future__ import annotations

import json
import os
import pwd
import socket
import subprocess
import sys
import time
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor

from classroom.gradebook import Gradebook
from sandbox import Machine, paths

from .conftest import GROUP, INSTRUCTOR, LAB

OPEN = "from classroom.notebook import open_lab\nlab = open_lab({lab!r})\nlab.session.learner"


def machine_of(learner: str) -> Machine:
    return Machine(f"{learner}--{LAB}--mail")


def test_ten_learners_each_check_their_own_machine(room, learners):
    """Does each of 10 learners get their own machine and a correct record in the gradebook?"""
    def work(learner: str) -> tuple[str, str, str]:
        kernel = room.kernel(learner)
        out, error = kernel.run(OPEN.format(lab=LAB))
        assert error == "", f"{learner}: {error}"
        # their `!` commands run as root inside their own machine
        mark, error = kernel.run(f"!echo {learner} > /root/who && id -u && hostname")
        assert error == "" and mark.split() == ["0", "mail"], mark
        checked, error = kernel.run("r = lab.session.check('install')\nprint(r.status.value, r.first_problem.name)")
        assert error == "", error
        uid, _ = kernel.run("import os; print(os.getuid())")
        return learner, checked.strip(), uid.strip()

    with ThreadPoolExecutor(5) as pool:
        outcomes = list(pool.map(work, learners))
    for learner, checked, uid in outcomes:
        assert checked == "FAIL postfix_is_installed", learner
        assert int(uid) == pwd.getpwnam(learner).pw_uid  # the kernel runs as the learner, not root
        assert (machine_of(learner).root / "root" / "who").read_text().strip() == learner

    book = Gradebook(room.gradebook)
    assert set(learners) <= set(book.learners())
    for learner in learners:
        [record] = book.records(learner=learner)
        assert (record.lab, record.step, record.attempts, record.last_status) == (LAB, "install", 1, "FAIL")
        assert record.hints_shown == 1 and not record.ever_passed
        assert book.last_result(learner, LAB, "install").first_problem.name == "postfix_is_installed"


def test_a_learner_cannot_reach_another_learners_machine(room, learners):
    alice, bob = learners[0], learners[1]
    kernel = room.kernel(alice)
    kernel.run(OPEN.format(lab=LAB))
    other = machine_of(bob)
    code = f"""
import os, subprocess
def attempt(fn):
    try:
        fn()
        return "allowed"
    except PermissionError:
        return "refused"
print(attempt(lambda: open({str(other.root / 'root' / 'who')!r}).read()))
print(attempt(lambda: os.listdir({str(paths.machines_dir())!r})))
done = subprocess.run(["nsenter", "-t", {str(other.pid)!r}, "-m", "cat", "/root/who"], capture_output=True, text=True)
print(done.returncode != 0 and "refused" or "allowed")
"""
    out, error = kernel.run(code)
    assert error == "" and out.split() == ["refused"] * 3, out + error
    # the grader service acts on the caller's own lab, whatever machine name is asked for
    out, error = kernel.run(f"from workshop.client import call\n"
                            f"try:\n    call('exec', lab={LAB!r}, machine={bob!r}, argv=['true'], fds=[0, 1, 2])\n"
                            f"except Exception as e:\n    print(type(e).__name__, e)")
    assert out.startswith("UsageError Lab install-postfix has no machine"), out + error
    assert (other.root / "root" / "who").read_text().strip() == bob


def test_a_learner_cannot_write_the_gradebook_or_forge_a_result(room, learners):
    learner = learners[2]
    kernel = room.kernel(learner)
    before = Gradebook(room.gradebook).records(learner=learner)
    code = f"""
from classroom.gradebook import Gradebook, GradebookError
try:
    open({str(room.gradebook)!r}, "ab")
    print("allowed")
except PermissionError:
    print("refused")
try:
    Gradebook({str(room.gradebook)!r})
    print("allowed")
except GradebookError as e:
    print("refused")
from workshop.client import call
for op, extra in (("record", {{"result": {{"lab": {LAB!r}, "step": "install", "items": []}}}}),
                  ("check", {{"learner": {learners[3]!r}, "step": "install"}})):
    try:
        print(call(op, lab={LAB!r}, **extra)["status"])
    except Exception as e:
        print(type(e).__name__, str(e)[:40].replace(" ", "_"))
"""
    out, error = kernel.run(code)
    lines = out.split("\n")
    assert lines[:2] == ["refused", "refused"], out + error
    assert lines[2].startswith("UsageError The_grader_has_no_operation_called_'"), out
    # naming another learner changes nothing: the check runs on (and is recorded for) the caller
    assert lines[3] == "FAIL", out
    book = Gradebook(room.gradebook)
    assert len(book.records(learner=learner)) == len(before) == 1
    assert book.records(learner=learner)[0].attempts == before[0].attempts + 1
    assert book.records(learner=learners[3])[0].attempts == 1


def test_someone_outside_the_workshop_is_refused(room, learners):
    """A local account that is not in the workshop's group gets a sentence, not a machine."""
    code = ("from workshop.client import call\n"
            "try:\n    call('start', lab='install-postfix')\nexcept Exception as e:\n    print(e)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, user="nobody",
                          group="nogroup", extra_groups=[], cwd="/", timeout=60,
                          env={"PATH": "/usr/bin:/bin", "MAILLAB_WORKSHOP_SOCKET": _socket(room),
                               "PYTHONPATH": os.environ.get("PYTHONPATH", "")})
    assert done.stdout.strip() == ("This account (nobody) is not a learner of this workshop, so the grader "
                                   "will not act for it."), done.stdout + done.stderr
    assert not Machine(f"nobody--{LAB}--mail").exists()


def test_the_terminal_is_a_root_shell_in_the_learners_machine(room, learners):
    learner = learners[4]
    token = room.hub.user_token(learner)
    status, term, _ = room.hub.request("POST", f"user/{learner}/api/terminals", {}, token=token)
    assert status == 200, term
    import websocket

    ws = websocket.create_connection(
        room.url.replace("http", "ws", 1) + f"user/{learner}/terminals/websocket/{term['name']}",
        header=[f"Authorization: token {token}"], timeout=60)
    try:
        ws.send(json.dumps(["stdin", "echo ROOT=$(id -u) HOST=$(hostname) WHO=$(cat /root/who)\r"]))
        seen, deadline = "", time.monotonic() + 30
        while f"WHO={learner}" not in seen and time.monotonic() < deadline:
            message = json.loads(ws.recv())
            if message[0] == "stdout":
                seen += message[1]
        assert f"ROOT=0 HOST=mail WHO={learner}" in seen, seen
    finally:
        ws.close()
        room.hub.request("DELETE", f"user/{learner}/api/terminals/{term['name']}", token=token)


def test_a_second_workshop_up_is_refused_and_changes_nothing(room, learners):
    settings = (room.state / "settings.json").read_bytes()
    again = room.maillab("workshop", "up", "--seats", "3", "--port", str(_free_port()), "--group", GROUP)
    assert again.returncode == 2
    assert again.stderr.startswith("maillab: A workshop is already running here (JupyterHub pid "), again.stderr
    assert "Nothing was changed." in again.stderr and "Traceback" not in again.stderr
    assert (room.state / "settings.json").read_bytes() == settings
    status, _ = room.hub.api("GET", "/")
    assert status == 200
    shown = room.maillab("workshop", "status")
    _, users = room.hub.api("GET", "/users")
    others = [u for u in users if not u["admin"]]  # the ten, and any a test before made
    assert shown.returncode == 0, shown.stderr
    assert f"Learners: {len(others)}, {len(others)} with a running server." in shown.stdout, shown.stdout
    assert f"127.0.0.1:{room.url.rsplit(':', 1)[1]}" in shown.stdout


def test_progress_survives_the_server_being_culled_and_restarted(room, learners):
    learner = learners[5]
    kernel = room.kernels.pop(learner, None)
    if kernel is not None:
        kernel.ws.close()
    status, _ = room.hub.api("DELETE", f"/users/{learner}/server")  # what the idle culler does
    assert status in (202, 204)
    for _ in range(100):
        _, user = room.hub.api("GET", f"/users/{learner}")
        if not user["servers"]:
            break
        time.sleep(0.2)
    assert room.hub.start_server(learner) > 0
    kernel = room.kernel(learner)
    out, error = kernel.run(OPEN.format(lab=LAB))
    assert error == "", error
    out, error = kernel.run("print(lab.session.progress()['install']['attempts'])\n!cat /root/who")
    assert error == "" and out.split() == ["1", learner], out + error


def test_the_dashboard_is_for_instructors_only(room, learners):
    learner_token = room.hub.user_token(learners[6])
    status, body, _ = room.hub.request("GET", "services/dashboard/grid.json", token=learner_token)
    assert status == 403, body
    instructor_token = room.hub.user_token(INSTRUCTOR)
    status, grid, _ = room.hub.request("GET", "services/dashboard/grid.json", token=instructor_token)
    assert status == 200, grid
    rows = {row["learner"]: row for row in grid["rows"]}
    assert set(learners) <= set(rows)
    first = [c["lab"] for c in grid["columns"]].index(LAB)  # the first step of this lab
    assert rows[learners[0]]["cells"][first]["state"] == "fail"
    assert rows[learners[0]]["stuck"]["step"] == "install"
    assert rows[learners[0]]["stuck"]["last_hint"]
    status, text, _ = room.hub.request("GET", "services/dashboard/result/%s/%s/install" % (learners[0], LAB),
                                       token=instructor_token)
    assert status == 200 and "postfix" in str(text)
    status, text, _ = room.hub.request("GET", f"services/dashboard/result/mltwsghost/{LAB}/install",
                                       token=instructor_token)
    assert status == 404 and "There is no learner called mltwsghost in the gradebook." in text
    status, answer, _ = room.hub.request("POST", "services/dashboard/reset", {"learner": "mltwsghost", "lab": LAB},
                                         token=instructor_token, headers={"X-MailLab-Dashboard": "1"})
    assert (status, answer) == (400, {"ok": False, "error": "This account (mltwsghost) is not a learner of this "
                                                             "workshop, so the grader will not act for it."})
    # an instructor resets a learner's machine: the learner's file is gone, the reset is recorded
    # without the dashboard's own header (a foreign page's form cannot add it) nothing is reset
    status, _, _ = room.hub.request("POST", "services/dashboard/reset", {"learner": learners[7], "lab": LAB,
                                                                       "step": "install"}, token=instructor_token)
    assert status == 400
    assert (machine_of(learners[7]).root / "root" / "who").exists()
    status, answer, _ = room.hub.request("POST", "services/dashboard/reset", {"learner": learners[7], "lab": LAB,
                                                                             "step": "install"},
                                         token=instructor_token, headers={"X-MailLab-Dashboard": "1"})
    assert (status, answer) == (200, {"ok": True})
    assert not (machine_of(learners[7]).root / "root" / "who").exists()
    assert Gradebook(room.gradebook).records(learner=learners[7])[0].resets == 1


def _socket(room) -> str:
    from workshop import settings

    os.environ[settings.DIR_ENV] = str(room.state)
    try:
        return str(settings.socket_path())
    finally:
        os.environ.pop(settings.DIR_ENV, None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_grader_service_answers_nonsense_with_a_sentence(room, learners):
    """Root without naming a learner, bad JSON, an unknown learner: sentences, and the service lives on."""
    from workshop import client, protocol

    path = _socket(room)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        sock.sendall(b"this is not json\n")
        reply = protocol.Reader(sock).receive()
    assert reply == {"ok": False, "kind": "usage", "error": "The grader did not understand that request (not JSON)."}
    for fields, sentence in (({}, "This account (root) is not a learner of this workshop"),
                             ({"learner": "mltwsnobody"}, "This account (mltwsnobody) is not a learner"),
                             ({"learner": learners[0], "lab": "no-such-lab"}, "There is no lab called 'no-such-lab'")):
        try:
            client.call("progress", path=Path(path), **fields)
        except Exception as exc:  # noqa: BLE001 - the sentence is what matters
            assert str(exc).startswith(sentence), exc
        else:
            raise AssertionError(f"{fields} was served")
    assert client.call("progress", path=Path(path), learner=learners[0], lab=LAB)["install"]["attempts"] >= 1
    try:  # faults on demand go to the caller's own lab network, and a lab without one says so
        client.call("node", path=Path(path), learner=learners[0], lab=LAB, node="mx1", action="stop")
    except Exception as exc:  # noqa: BLE001
        assert f"The lab {LAB} has no lab network" in str(exc), exc
    else:
        raise AssertionError("a node of a lab without a network was stopped")


def test_interrupting_a_command_ends_it_inside_the_machine(room, learners):
    """Does the notebook's Stop button reach a `!command` running in the learner's machine?"""
    learner = learners[8]
    kernel = room.kernel(learner)
    kernel.run(OPEN.format(lab=LAB))
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(kernel.run, "!sleep 120; echo not-interrupted")
        machine = machine_of(learner)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "sleep 120" not in _processes(machine):
            time.sleep(0.2)
        assert "sleep 120" in _processes(machine)
        began = time.monotonic()
        status, _, _ = room.hub.request("POST", f"user/{learner}/api/kernels/{kernel.id}/interrupt",
                                        token=kernel.token)
        assert status == 204
        out, _ = running.result(timeout=60)
    assert time.monotonic() - began < 20 and "not-interrupted" not in out
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "sleep 120" in _processes(machine):
        time.sleep(0.2)
    assert "sleep 120" not in _processes(machine)


def _processes(machine: Machine) -> str:
    return machine.exec(["ps", "-eo", "args"]).out
