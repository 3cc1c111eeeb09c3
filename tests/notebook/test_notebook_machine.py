"""The shell extension against a real lab machine (nsenter into its namespaces)."""
from __future__ import annotations

import os

import pytest
from IPython.core.interactiveshell import InteractiveShell

from classroom.notebook import shell

pytestmark = pytest.mark.machine


@pytest.fixture(scope="module")
def machine():
    if os.geteuid() != 0:
        pytest.skip("lab machines need root")
    from sandbox import Machine, MachineSpec, image
    m = Machine.create("pytest--notebook", MachineSpec(lowers=[str(image.ensure_image(quiet=True))]))
    yield m
    m.destroy()


@pytest.fixture
def ip(machine):
    ipython = InteractiveShell.instance()
    ipython.extension_manager.load_extension("classroom.notebook.shell")
    shell.use_machine(machine)
    return ipython


def test_bang_runs_as_root_inside_the_machine(ip, capsys):
    os.environ["MAILLAB_HOST_ONLY"] = "leak"
    try:
        ip.run_cell("!hostname --fqdn; echo home=$HOME; echo leak=${MAILLAB_HOST_ONLY:-none}; id -u")
    finally:
        del os.environ["MAILLAB_HOST_ONLY"]
    out = capsys.readouterr().out
    assert "mail.example.test" in out and "home=/root" in out and "leak=none" in out
    assert out.split()[-1] == "0"


def test_exit_codes_and_script_cells(ip, capsys):
    ip.run_cell("!test -e /etc/debian_version && exit 4")
    assert ip.user_ns["_exit_code"] == 4
    ip.run_cell("%%bash\nhostname\n")
    assert "mail" in capsys.readouterr().out


def test_a_machine_stopped_behind_the_notebooks_back_is_a_sentence(ip, machine, capsys):
    machine.stop()
    try:
        ip.run_cell("!hostname")
        err = capsys.readouterr().err
        assert "is not running" in err and shell.RESTART_HINT in err and "Traceback" not in err
        assert ip.user_ns["_exit_code"] != 0
    finally:
        machine.start()
