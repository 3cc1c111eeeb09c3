"""Which workspace paths lie inside a lab machine, and the sentences JupyterLab's dialogs show."""
from __future__ import annotations

from grader import i18n
from classroom.notebook.machine_files import locate, refuse
from sandbox import paths


def test_a_path_under_a_machine_folder_is_that_machines(tmp_path, monkeypatch):
    machines_dir = tmp_path / "machines-store"
    root = machines_dir / "learner--backup-mx--mail1" / "merged"
    (root / "etc" / "postfix").mkdir(parents=True)
    monkeypatch.setattr(paths, "machines_dir", lambda: machines_dir)
    workspace = tmp_path / "ws"
    (workspace / "machines" / "backup-mx").mkdir(parents=True)
    (workspace / "machines" / "backup-mx" / "mail1").symlink_to(root)
    where = locate(str(workspace), str(workspace / "machines/backup-mx/mail1/etc/postfix/main.cf"))
    assert where.machine.name == "learner--backup-mx--mail1"
    assert where.inner == "/etc/postfix/main.cf" and where.label == "mail1 (backup-mx)"
    assert locate(str(workspace), str(workspace / "machines/backup-mx/mail1")).inner == "/"
    # The learner's own files, and links that lead anywhere else, are not a machine's.
    (workspace / "notes.txt").write_text("mine")
    (workspace / "elsewhere").symlink_to(tmp_path)
    assert locate(str(workspace), str(workspace / "notes.txt")) is None
    assert locate(str(workspace), str(workspace / "elsewhere" / "machines-store")) is None
    assert locate(str(workspace), str(workspace / "machines" / "backup-mx")) is None


def test_a_refusal_is_one_sentence_in_the_learners_language():
    error = refuse(409, "reset", machine="mail1 (backup-mx)", path="/etc/postfix/main.cf")
    assert error.status_code == 409 and error.log_message.startswith("mail1 (backup-mx) was reset after you opened")
    with i18n.speaking("zh"):
        error = refuse(409, "stopped_save", machine="mail1 (backup-mx)", path="/etc/postfix/main.cf")
    assert "没有在运行" in error.log_message and "/etc/postfix/main.cf" in error.log_message
