"""`maillab lab new NAME` makes a lab that loads, whose notebooks Jupyter reads, and that lint finds
complete except for the translations of its own new texts."""
import nbformat
import pytest

from classroom import lint
from classroom.cli import EXIT_PASS, EXIT_USAGE, main
from classroom.scaffold import new_lab
from grader import course
from grader.errors import UsageError


@pytest.fixture
def tree(tmp_path, monkeypatch):
    (tmp_path / "labs" / "03-older").mkdir(parents=True)
    (tmp_path / "labs" / "03-older" / "lab.toml").write_text('id = "older"\n[[steps]]\nid = "a"\ntitle = "A"\n')
    monkeypatch.setenv("MAILLAB_LABS", str(tmp_path / "labs"))
    return tmp_path / "labs"


def test_a_new_lab_comes_after_the_last_and_is_complete(tree):
    folder = new_lab("spam-defence", "Spam defence")
    assert folder == tree / "04-spam-defence"
    lab = course.load(folder)
    assert (lab.id, lab.title, [s.id for s in lab.steps]) == ("spam-defence", "Spam defence", ["mailname"])
    for name in ("lab.ipynb", "lab.zh.ipynb"):
        nbformat.validate(nbformat.read(str(folder / name), as_version=4))
    found = lint.problems(lab)
    # Only its own new texts wait for their Chinese: the check reuses the course's translated messages.
    assert found and all("no zh translation of" in p for p in found), found
    assert {p.split('"')[1] for p in found} == {"Spam defence", "Give the machine its mail name.", "Give the machine its mail name"}


def test_a_wrong_or_taken_name_is_a_sentence(tree, capsys):
    with pytest.raises(UsageError, match="lower-case letters"):
        new_lab("Spam Defence")
    assert main(["lab", "new", "older"]) == EXIT_USAGE
    assert "There is already a lab called older." in capsys.readouterr().err
    assert not (tree / "04-older").exists()


def test_the_command_says_what_to_do_next(tree, capsys):
    assert main(["lab", "new", "dkim"]) == EXIT_PASS
    out = capsys.readouterr().out
    assert "04-dkim" in out and "docs/AUTHORING.md" in out and "maillab selftest dkim" in out
