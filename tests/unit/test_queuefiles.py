"""Queue files in a frozen layer are renamed after their inode numbers there (real files, as root)."""
import os
import stat

import pytest

from grader import queuefiles

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts (mknod) need root")


def spool(root, queue):
    folder = root / "var/spool/postfix" / queue
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_copied_up_queue_file_is_renamed_with_its_log_and_the_old_name_whited_out(tmp_path):
    lower, layer = tmp_path / "lower", tmp_path / "layer"
    old = "7988925C7A4"
    (spool(lower, "deferred/7") / old).write_text("original")
    (spool(layer, "deferred/7") / old).write_text("copied up, so another inode")
    (spool(layer, "defer/7") / old).write_text("recipient=alice@example.test\n")
    renamed = queuefiles.renumber(layer, [str(lower)])
    new = renamed[old]
    moved = layer / "var/spool/postfix/deferred/7" / new
    assert new == "79889" + format(moved.stat().st_ino, "X")
    assert (layer / "var/spool/postfix/defer/7" / new).read_text().startswith("recipient=")
    whiteout = (layer / "var/spool/postfix/deferred/7" / old).lstat()
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == os.makedev(0, 0)


def test_matching_names_and_other_files_are_left_alone(tmp_path):
    layer = tmp_path / "layer"
    hold = spool(layer, "hold")
    probe = hold / "probe"
    probe.write_text("x")
    good = "8BAC4" + format(probe.stat().st_ino, "X")
    probe.rename(hold / good)
    (spool(layer, "active") / "not-a-queue-id").write_text("x")
    assert queuefiles.renumber(layer, []) == {}
    assert sorted(p.name for p in hold.iterdir()) == [good]
    assert queuefiles.renumber(tmp_path / "no-postfix-here", []) == {}
