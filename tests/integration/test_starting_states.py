"""A later lab starts where an earlier one ends, from cached layers, with its services running."""
import shutil
from pathlib import Path

import pytest

from grader.result import Status
from classroom.session import open_session
from sandbox import paths

from .conftest import LEARNER

pytestmark = pytest.mark.machine

REPO_LABS = Path(__file__).resolve().parents[2] / "labs"


@pytest.fixture
def course(tmp_path, monkeypatch):
    labs = tmp_path / "labs"
    shutil.copytree(REPO_LABS / "02-install-postfix", labs / "02-install-postfix")
    nxt = labs / "03-next"
    (nxt / "solve").mkdir(parents=True)
    (nxt / "lab.toml").write_text('id = "next"\ntitle = "Next"\nstarts_after = "install-postfix"\n'
                                  '[[steps]]\nid = "hello"\ntitle = "Hello"\nfresh_fails = "hello_file_exists"\n')
    (nxt / "checks.py").write_text(
        "from grader import Fail, check\n\n"
        "@check(step='hello', hint='Create /root/hello.')\n"
        "def hello_file_exists(host):\n"
        "    if not host.file('/root/hello').exists:\n"
        "        raise Fail('/root/hello is missing')\n")
    (nxt / "solve" / "hello.sh").write_text("touch /root/hello\n")
    monkeypatch.setenv("MAILLAB_LABS", str(labs))
    session = open_session("next", LEARNER)
    yield session
    for machine in session.machines():
        machine.destroy()


def test_a_lab_starts_where_the_one_before_it_ends(course):
    course.reset()
    machine = course.machine()
    # Lab 02's reference solutions are applied: Postfix installed, running, root has mail.
    assert machine.exec(["postfix", "status"]).returncode == 0
    assert "My first mail" in machine.exec(["cat", "/var/mail/root"]).out
    result = course.check("hello")
    assert result.status is Status.FAIL and result.first_problem.name == "hello_file_exists"
    course.solve("hello")
    assert course.check("hello").status is Status.PASS


def test_a_starting_state_is_built_once_and_reused(course):
    course.reset()  # builds (or finds) every layer
    before = sorted(p.name for p in paths.layers_dir().iterdir())
    course.reset()
    assert sorted(p.name for p in paths.layers_dir().iterdir()) == before


def test_postfix_starts_the_quick_way_only_from_a_checked_state(course):
    """The first boot from a starting state starts Postfix as `postfix quick-stop` leaves it (no
    integrity check, no chroot copy: sandbox/services.sh); a boot after a stop, or a chroot copy
    that differs from /etc's, goes through Debian's init script, which copies /etc into the chroot."""
    course.reset()
    machine = course.machine()
    assert machine.exec(["postfix", "status"]).returncode == 0
    assert machine.exec(["test", "-e", "/var/spool/postfix/quick-start"]).returncode == 1  # Postfix took it
    # A chroot copy out of date: the next boot must not skip the copy.
    machine.exec(["sh", "-c", "echo '# changed' >> /var/spool/postfix/etc/services"])
    machine.stop()
    machine.start()
    assert machine.exec(["postfix", "status"]).returncode == 0
    same = machine.exec(["cmp", "/etc/services", "/var/spool/postfix/etc/services"])
    assert same.returncode == 0, same.out + same.err
