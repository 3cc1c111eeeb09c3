"""The shell extension in a real IPython shell, with a stand-in machine (`env -i` on this host)."""
from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from classroom.notebook import shell
from classroom.notebook.shell import NO_MACHINE


@pytest.fixture(scope="module")
def ip():
    ipython = InteractiveShell.instance()
    ipython.extension_manager.load_extension("classroom.notebook.shell")
    return ipython


def run(ip, code: str):
    result = ip.run_cell(code)
    assert result.error_before_exec is None and result.error_in_exec is None, result
    return result


def test_bang_runs_inside_the_machine(ip, fake_machine, capsys):
    shell.use_machine(fake_machine)
    run(ip, "!echo marker=$MAILLAB_IN_FAKE_MACHINE")
    assert "marker=1" in capsys.readouterr().out


def test_bang_runs_on_a_pty_so_output_streams_live(ip, fake_machine, capsys):
    """IPython's pexpect runner is kept: the command sees a terminal."""
    shell.use_machine(fake_machine)
    run(ip, "!tty")
    assert "/dev/pts/" in capsys.readouterr().out


def test_exit_code_passes_through(ip, fake_machine):
    shell.use_machine(fake_machine)
    run(ip, "!exit 3")
    assert ip.user_ns["_exit_code"] == 3
    run(ip, "!true")
    assert ip.user_ns["_exit_code"] == 0


def test_python_variables_expand_before_the_command_runs(ip, fake_machine, capsys):
    shell.use_machine(fake_machine)
    run(ip, "user = 'alice'\nbox = '/var/mail'\n!echo {box}/{user} $user")
    assert "/var/mail/alice alice" in capsys.readouterr().out


def test_variables_of_a_function_expand_too(ip, fake_machine, capsys):
    shell.use_machine(fake_machine)
    run(ip, "def show():\n    local_name = 'bob'\n    !echo local={local_name}\nshow()")
    assert "local=bob" in capsys.readouterr().out


def test_captured_output_comes_from_the_machine(ip, fake_machine):
    shell.use_machine(fake_machine)
    run(ip, "lines = !echo $MAILLAB_IN_FAKE_MACHINE; echo second")
    assert list(ip.user_ns["lines"]) == ["1", "second"]
    run(ip, "more = %sx echo $MAILLAB_IN_FAKE_MACHINE")
    assert list(ip.user_ns["more"]) == ["1"]


@pytest.mark.parametrize("magic", ["%%bash", "%%sh", "%%script bash", "%%script --no-raise-error bash"])
def test_script_cells_run_inside_the_machine(ip, fake_machine, capsys, magic):
    shell.use_machine(fake_machine)
    run(ip, f"{magic}\necho cell=$MAILLAB_IN_FAKE_MACHINE\n")
    assert "cell=1" in capsys.readouterr().out


def test_script_cells_still_run_inside_after_every_magic_is_loaded(ip, fake_machine, capsys):
    """IPython 9 registers its own ScriptMagics lazily: loading them all must not displace ours."""
    shell.use_machine(fake_machine)
    ip.magics_manager.load_all_lazy_magics()
    run(ip, "%%bash\necho cell=$MAILLAB_IN_FAKE_MACHINE\n")
    assert "cell=1" in capsys.readouterr().out


def test_script_output_can_be_captured(ip, fake_machine):
    shell.use_machine(fake_machine)
    run(ip, "%%bash --out captured\necho $MAILLAB_IN_FAKE_MACHINE\n")
    assert ip.user_ns["captured"] == "1\n"


@pytest.mark.parametrize("cell", [
    "!touch {path}",
    "!!touch {path}",
    "out = !touch {path}",
    "%sx touch {path}",
    "%%bash\ntouch {path}\n",
    "%%script sh\ntouch {path}\n",
])
def test_nothing_runs_on_the_host_before_a_machine_is_attached(ip, tmp_path, capsys, cell):
    target = tmp_path / "made-on-the-host"
    ip.user_ns["_exit_code"] = 0
    ip.run_cell(cell.format(path=target))
    assert not target.exists()
    assert NO_MACHINE in capsys.readouterr().err


def test_no_machine_sets_a_failing_exit_code(ip, capsys):
    run(ip, "!echo hi")
    assert ip.user_ns["_exit_code"] != 0
    captured = capsys.readouterr()
    assert NO_MACHINE in captured.err and "hi" not in captured.out


def test_a_stopped_machine_is_a_sentence_not_a_traceback(ip, fake_machine, capsys):
    fake_machine.running = False
    shell.use_machine(fake_machine)
    run(ip, "!echo hi")
    err = capsys.readouterr().err
    assert "Machine fake is not running." in err and shell.RESTART_HINT in err
    assert "Traceback" not in err
    assert ip.user_ns["_exit_code"] != 0


def test_a_machine_that_stops_during_a_command_is_explained(ip, fake_machine, capsys):
    shell.use_machine(fake_machine)
    ip.user_ns["m"] = fake_machine
    run(ip, "m.running = False\n!exit 1")  # the command fails, and the machine is gone meanwhile
    assert "Machine fake is not running." in capsys.readouterr().err


def test_a_broken_machine_object_never_falls_back_to_the_host(ip, tmp_path, capsys):
    class Broken:
        name = "broken"

        def enter_argv(self, argv, *, tty=False):
            raise RuntimeError("no pid file")

    shell.use_machine(Broken())
    target = tmp_path / "made-on-the-host"
    run(ip, f"!touch {target}")
    assert not target.exists()
    assert "Could not reach your lab machine (RuntimeError: no pid file)" in capsys.readouterr().err


@pytest.mark.parametrize("cell", ["!{cmd}", "out = !{cmd}\nprint(out)", "%%bash\n{cmd}\n"])
def test_a_daemon_holding_the_output_does_not_keep_the_cell_running(ip, fake_machine, capsys, cell):
    """`service dovecot start` leaves a daemon with the cell's stderr open: the cell still ends."""
    import time

    shell.use_machine(fake_machine)
    daemon = "(sleep 8 >&2 &) ; echo started-daemon"
    started = time.monotonic()
    run(ip, cell.format(cmd=daemon))
    assert time.monotonic() - started < 5
    assert "started-daemon" in capsys.readouterr().out


def test_a_failing_script_cell_is_a_sentence_not_a_traceback(ip, fake_machine, capsys):
    """Issue 16: a learner's cell whose last command fails says so; Run All goes on to the next cell."""
    shell.use_machine(fake_machine)
    result = run(ip, "%%bash\necho before\nfalse\n")
    assert result.success
    out = capsys.readouterr()
    assert "before" in out.out and "The cell's last command ended with exit status 1." in out.err
