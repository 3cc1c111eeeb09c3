"""The learner's workspace: notebooks copied once, a `machine` link to the machine's files."""
from __future__ import annotations

import nbformat
import pytest

from grader.errors import MailLabError
from classroom.notebook import install_notebooks, link_machine_root
from notebook_fakes import FakeMachine


@pytest.fixture
def lab_notebook(tmp_path):
    source = tmp_path / "labs" / "lab.ipynb"
    source.parent.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("lab = open_lab('x')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, source)
    return source


def test_a_notebook_is_copied_with_the_maillab_kernel(tmp_path, lab_notebook):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    copied = install_notebooks(workspace, [(lab_notebook, "02-install-postfix.ipynb")])
    dest = workspace / "02-install-postfix.ipynb"
    assert copied == [dest]
    nb = nbformat.read(dest, as_version=4)
    assert nb.metadata.kernelspec["name"] == "maillab"
    assert nb.cells[0].source == "lab = open_lab('x')"
    assert sorted(p.name for p in workspace.iterdir()) == ["02-install-postfix.ipynb"]  # no leftovers


def test_a_learners_copy_is_never_overwritten(tmp_path, lab_notebook):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    mine = workspace / "02-install-postfix.ipynb"
    mine.write_text("my work")
    assert install_notebooks(workspace, [(lab_notebook, mine.name)]) == []
    assert mine.read_text() == "my work"


def test_other_files_are_copied_as_they_are(tmp_path):
    picture = tmp_path / "hops.png"
    picture.write_bytes(b"\x89PNG")
    workspace = tmp_path / "ws"
    install_notebooks(workspace, [(picture, "img/hops.png")])
    assert (workspace / "img" / "hops.png").read_bytes() == b"\x89PNG"


def test_the_machine_link_follows_the_current_machine(tmp_path):
    first, second = tmp_path / "m1", tmp_path / "m2"
    (first / "etc").mkdir(parents=True)
    (second / "etc").mkdir(parents=True)
    (second / "etc" / "aliases").write_text("postmaster: root\n")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    link = link_machine_root(workspace, FakeMachine(root=first))
    assert link == workspace / "machine" and link.resolve() == first
    link_machine_root(workspace, FakeMachine(root=second))
    assert (workspace / "machine" / "etc" / "aliases").read_text() == "postmaster: root\n"
    assert sorted(p.name for p in workspace.iterdir()) == ["machine"]


def test_a_learners_own_machine_folder_is_left_alone(tmp_path):
    workspace = tmp_path / "ws"
    (workspace / "machine").mkdir(parents=True)
    (workspace / "machine" / "notes.txt").write_text("mine")
    with pytest.raises(MailLabError, match="rename it"):
        link_machine_root(workspace, FakeMachine(root=tmp_path))
    assert (workspace / "machine" / "notes.txt").read_text() == "mine"


def test_each_lab_machine_has_its_own_folder_that_another_lab_never_repoints(tmp_path):
    from classroom.notebook.workspace import link_lab_machines
    roots = {}
    for name in ("mail1", "mail2", "mail"):
        roots[name] = tmp_path / name
        (roots[name] / "etc").mkdir(parents=True)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    link_lab_machines(workspace, "backup-mx", [(n, FakeMachine(root=roots[n])) for n in ("mail1", "mail2")])
    link_lab_machines(workspace, "install-postfix", [("mail", FakeMachine(root=roots["mail"]))])
    machines = workspace / "machines"
    assert (machines / "backup-mx" / "mail1").resolve() == roots["mail1"]
    assert (machines / "backup-mx" / "mail2").resolve() == roots["mail2"]
    assert (machines / "install-postfix" / "mail").resolve() == roots["mail"]
    assert not (workspace / "machine").exists()


def test_a_learners_own_machines_file_is_left_alone(tmp_path):
    from classroom.notebook.workspace import link_lab_machines
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "machines").write_text("mine")
    with pytest.raises(MailLabError, match="rename it"):
        link_lab_machines(workspace, "backup-mx", [("mail1", FakeMachine(root=tmp_path))])
    assert (workspace / "machines").read_text() == "mine"
