"""Declaring checks with @check and loading a lab's checks.py."""
from __future__ import annotations

import textwrap

import pytest

from grader import Fail, check
from grader.check import Check, ChecksError, checks_of_module, load_checks

CHECKS_PY = '''
from dataclasses import dataclass
from grader import check, Fail

@dataclass
class Seen:
    value: str

@check(step="install", hint="Install Postfix: `apt-get install postfix`.")
def postfix_is_installed(host):
    return "installed"

@check(step="install", hint="Start it.", title="Postfix runs (master process)", within=5)
def postfix_is_running(host):
    raise Fail("no master process", hint="Run `service postfix start`.")

@check(step="aliases", hint="Add the alias.")
def sales_alias_reaches_alice(host):
    return Seen("x").value
'''


def write(tmp_path, name, source):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def test_load_checks_groups_by_step_in_declaration_order(tmp_path):
    checks = load_checks(write(tmp_path, "checks.py", CHECKS_PY))
    assert list(checks) == ["install", "aliases"]
    installed, running = checks["install"]
    assert (installed.name, installed.title, installed.hint) == (
        "postfix_is_installed", "Postfix is installed", "Install Postfix: `apt-get install postfix`.")
    assert running.title == "Postfix runs (master process)" and running.within == 5
    assert installed(None) == "installed"
    assert checks["aliases"][0](None) == "x"  # dataclasses work inside a loaded checks.py
    with pytest.raises(Fail) as caught:
        running(None)
    assert caught.value.detail == "no master process"
    assert caught.value.hint == "Run `service postfix start`."


def test_each_load_is_a_fresh_module_and_labs_do_not_leak(tmp_path):
    lab2 = write(tmp_path, "lab2.py", CHECKS_PY)
    lab3 = write(tmp_path, "lab3.py", '''
        from grader import check
        @check(step="users", hint="Add alice.")
        def alice_exists(host):
            return "ok"
    ''')
    first = load_checks(lab2)
    assert list(load_checks(lab3)) == ["users"]
    again = load_checks(lab2)
    assert [c.name for c in again["install"]] == [c.name for c in first["install"]]
    assert again["install"][0].func is not first["install"][0].func


def test_checks_declared_in_this_module_register_here_only():
    namespace: dict = {}
    exec(textwrap.dedent('''
        from grader import check
        @check(step="s", hint="h")
        def one(host):
            return 1
    '''), namespace)
    assert [c.name for c in checks_of_module(namespace)["s"]] == ["one"]
    assert "__maillab_checks__" not in globals()


def test_declaration_mistakes_are_reported_to_the_author(tmp_path):
    with pytest.raises(ChecksError, match="two checks named"):
        load_checks(write(tmp_path, "dup.py", '''
            from grader import check
            @check(step="s", hint="h")
            def same(host): pass
            @check(step="s", hint="h")
            def same(host): pass
        '''))
    with pytest.raises(ChecksError, match="SyntaxError"):
        load_checks(write(tmp_path, "broken.py", "def (:\n"))
    with pytest.raises(ChecksError, match="no checks file"):
        load_checks(tmp_path / "missing.py")
    with pytest.raises(ChecksError, match="hint"):
        check(step="s", hint="  ")
    with pytest.raises(ChecksError, match="step"):
        check(step="", hint="h")


def test_decorated_function_stays_callable():
    @check(step="s", hint="h")
    def mail_reaches_root(host):
        return f"seen by {host}"

    assert isinstance(mail_reaches_root, Check)
    assert mail_reaches_root.title == "Mail reaches root"
    assert mail_reaches_root("h1") == "seen by h1"
