"""Files written into a machine from the host side (JupyterLab's `machine` folder, the sandbox's own
identity files) belong to the machine's root inside, with or without a user namespace."""
import asyncio

import pytest

from classroom.notebook.machine_files import MachineFilesManager
from classroom.notebook.workspace import link_machine_root
from sandbox import Machine, MachineSpec, image

pytestmark = pytest.mark.machine


@pytest.fixture(params=[True, False], ids=["userns", "no-userns"])
def machine(request):
    m = Machine.create("pytest-files", MachineSpec(lowers=[str(image.ensure_image(quiet=True))], userns=request.param))
    yield m
    m.destroy()


def owner(machine, path):
    return machine.exec(["stat", "-c", "%u:%g %a", path]).out.strip()


def test_jupyterlab_saves_new_and_edited_files_as_the_machines_root(machine, tmp_path):
    link_machine_root(tmp_path, machine)
    manager = MachineFilesManager(root_dir=str(tmp_path))

    async def edit():
        await manager.save({"type": "directory"}, "machine/etc/newdir")
        await manager.save({"type": "file", "format": "text", "content": "relayhost =\n"}, "machine/etc/newdir/new.cf")
        await manager.save({"type": "file", "format": "text", "content": "edited\n"}, "machine/etc/hostname")
        await manager.copy("machine/etc/newdir/new.cf", "machine/root/")
        await manager.save({"type": "file", "format": "text", "content": "notes\n"}, "notes.txt")

    asyncio.run(edit())
    assert owner(machine, "/etc/newdir") .startswith("0:0")
    assert owner(machine, "/etc/newdir/new.cf").startswith("0:0")
    assert owner(machine, "/etc/hostname").startswith("0:0")
    assert machine.exec(["cat", "/etc/newdir/new.cf"]).out == "relayhost =\n"
    assert owner(machine, "/root/new.cf").startswith("0:0")
    assert (tmp_path / "notes.txt").stat().st_uid == 0  # the workspace itself is the host's
    # The machine's root can change what was saved for it.
    assert machine.exec(["sh", "-c", "chown nobody /etc/newdir/new.cf && echo more >> /etc/newdir/new.cf"]).returncode == 0


def test_identity_files_written_at_boot_belong_to_root_inside(machine):
    for path in ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf"):
        assert owner(machine, path).startswith("0:0"), path
