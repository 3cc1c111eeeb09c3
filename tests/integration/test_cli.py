"""The `maillab` command as a user meets it: exit codes, one-line errors, JSON, exec."""
import json

import pytest

from .conftest import maillab

pytestmark = pytest.mark.machine


def one_clear_line(done):
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("maillab: "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    return lines[0]


@pytest.mark.parametrize("args, words", [
    (["check", "no-such-lab"], "no lab called 'no-such-lab'"),
    (["check", "install-postfix", "no-such-step"], "has no step 'no-such-step'"),
    (["reset", "install-postfix", "nope"], "has no step 'nope'"),
    (["frobnicate"], "invalid choice"),
    (["check"], "the following arguments are required: lab"),
    (["exec", "--lab", "install-postfix"], ""),
])
def test_usage_errors_exit_2_with_one_line(args, words):
    done = maillab(*args)
    assert done.returncode == 2
    assert words in one_clear_line(done)


def test_check_before_lab_start(lab02):
    lab02.stop()
    done = maillab("check", "install-postfix", "install")
    assert done.returncode == 2
    assert "maillab lab start install-postfix" in one_clear_line(done)


def test_check_exit_codes_and_json(lab02):
    assert maillab("reset", "install-postfix").returncode == 0
    done = maillab("check", "install-postfix", "install", "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["step"] == "install" and result["status"] == "FAIL"
    assert result["items"][0]["status"] == "FAIL" and result["items"][0]["hint"]
    assert maillab("solve", "install-postfix", "install").returncode == 0
    done = maillab("check", "install-postfix", "install")
    assert done.returncode == 0, done.stdout
    assert "PASS" in done.stdout


def test_exec_passes_exit_code_and_output(lab02):
    assert maillab("lab", "start", "install-postfix").returncode == 0
    done = maillab("exec", "--", "sh", "-c", "echo out; echo err >&2; exit 42")
    assert (done.returncode, done.stdout, done.stderr) == (42, "out\n", "err\n")
    done = maillab("exec", "--", "hostname")
    assert done.stdout.strip() == "mail"


def test_status_and_down(lab02):
    assert maillab("lab", "start", "install-postfix").returncode == 0
    done = maillab("status")
    assert done.returncode == 0 and "install-postfix" in done.stdout and "running" in done.stdout
    done = maillab("down")
    assert done.returncode == 0 and "Stopped" in done.stdout
    assert not lab02.started()


def test_selftest_proves_labs_side_by_side():
    done = maillab("selftest", "install-postfix", "basic-config", "--jobs", "2", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    labs = [line.split()[1].split("/")[0] for line in done.stdout.splitlines() if line.startswith("ok")]
    assert sorted(labs) == ["basic-config"] * 3 + ["install-postfix"] * 3
    assert labs in (sorted(labs), sorted(labs, reverse=True))  # each lab's lines together, as it ends
    assert done.stdout.strip().splitlines()[-1] == "selftest: 6 passed, 0 failed"


def test_selftest_refuses_no_jobs():
    done = maillab("selftest", "install-postfix", "--jobs", "0")
    assert done.returncode == 2 and "--jobs must be at least 1" in one_clear_line(done)


def test_image_rebuild_is_refused_while_machines_run_on_it(lab02):
    assert maillab("lab", "start", "install-postfix").returncode == 0
    done = maillab("image", "build")
    assert done.returncode == 3
    assert "stop them first" in one_clear_line(done)
    assert maillab("image", "build", "--if-missing").returncode == 0  # cached: nothing to do
