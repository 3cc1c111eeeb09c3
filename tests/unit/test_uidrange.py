"""Blocks of host uids for machines: never two machines on one block; stale blocks come back."""
import json

import pytest

from sandbox import idmap, uidrange


@pytest.fixture
def register(tmp_path, monkeypatch):
    monkeypatch.setattr(uidrange, "register", lambda: tmp_path / "uid-blocks")
    return tmp_path


def _machine(base_dir, name, uid_base=None):
    folder = base_dir / "machines" / name
    folder.mkdir(parents=True)
    if uid_base is not None:
        (folder / "machine.json").write_text(json.dumps({"uid_base": uid_base}))
    return folder


def test_two_machines_get_two_blocks_and_a_released_block_is_reused(register):
    a, b = _machine(register, "a"), _machine(register, "b")
    first, second = uidrange.allocate(a), uidrange.allocate(b)
    assert first == uidrange.FIRST and second == first + 65536
    uidrange.release(first, b)  # not b's block: nothing happens
    assert uidrange.allocate(_machine(register, "c")) == first + 2 * 65536
    uidrange.release(first, a)
    assert uidrange.allocate(_machine(register, "d")) == first


def test_a_block_whose_machine_is_gone_or_moved_is_taken_back(register):
    gone = _machine(register, "gone")
    base = uidrange.allocate(gone)
    (gone).rmdir()
    moved = _machine(register, "moved")
    assert uidrange.allocate(moved) == base
    (moved / "machine.json").write_text(json.dumps({"uid_base": base + 65536 * 7}))
    assert uidrange.allocate(_machine(register, "next")) == base
    # A machine being made (folder, no machine.json yet) keeps its block.
    making = _machine(register, "making")
    taken = uidrange.allocate(making)
    assert uidrange.allocate(_machine(register, "other")) != taken


def test_ids_map_into_and_out_of_a_block():
    base = uidrange.FIRST
    assert idmap.as_inside_id(base, base) == 0 and idmap.as_inside_id(base, base + 1000) == 1000
    assert idmap.as_inside_id(base, base + 42) == 42
    assert idmap.as_inside_id(base, 0) == 65534 and idmap.as_inside_id(base, base + 65536) == 65534
    assert uidrange.FIRST + uidrange.BLOCKS * 65536 <= 0x7FFE0000
