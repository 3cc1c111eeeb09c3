"""Files written into a machine from the host side (JupyterLab's `machine` folder, the sandbox's own
identity files) belong to the machine's root inside, with or without a user namespace."""
import asyncio
import os

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


def _error(coro):
    from tornado import web
    try:
        asyncio.run(coro)
    except web.HTTPError as exc:
        return exc
    raise AssertionError("not refused")


def test_a_link_planted_in_the_machine_never_leads_to_the_hosts_files(machine, tmp_path):
    link_machine_root(tmp_path, machine)
    manager = MachineFilesManager(root_dir=str(tmp_path))
    host = tmp_path / "host"
    (host / "tmp").mkdir(parents=True)
    (host / "secret").write_text("host only\n")
    assert machine.exec(["sh", "-c", f"ln -s {host} /root/host && ln -s /etc/hostname /root/name"]).returncode == 0
    # Opening through the link is refused with a sentence, reading nothing of the host.
    error = _error(manager.get("machine/root/host/secret", content=True, type="file", format="text"))
    assert error.status_code == 400 and "symbolic link" in error.log_message
    # A save through it is refused too, and writes nothing anywhere.
    marker = f"maillab-escape-{os.getpid()}"
    error = _error(manager.save({"type": "file", "format": "text", "content": "x\n"}, f"machine/root/host/tmp/{marker}"))
    assert error.status_code == 400 and "symbolic link" in error.log_message
    assert not (host / "tmp" / marker).exists() and machine.exec(["test", "-e", f"{host}/tmp/{marker}"]).returncode != 0
    # The walk itself never leaves the machine, whatever was checked before (a link swapped in meanwhile).
    from classroom.notebook.machine_files import locate, write_bytes
    assert machine.exec(["mkdir", "-p", f"{host}/tmp"]).returncode == 0  # the same path inside the machine
    write_bytes(locate(str(tmp_path), str(tmp_path / "machine/root/host/tmp" / marker)), b"y\n")
    assert not (host / "tmp" / marker).exists() and machine.exec(["cat", f"{host}/tmp/{marker}"]).out == "y\n"
    # A link as the last component is not written through either.
    error = _error(manager.save({"type": "file", "format": "text", "content": "x\n"}, "machine/root/name"))
    assert error.status_code == 400 and "not a regular file" in error.log_message
    # Deleting a folder that holds a link to a host folder (a canary here) removes the link, not the folder.
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "keep").write_text("host")
    asyncio.run(manager.save({"type": "directory"}, "machine/root/d"))
    assert machine.exec(["ln", "-s", str(canary), "/root/d/host"]).returncode == 0
    asyncio.run(manager.delete_file("machine/root/d"))
    assert (canary / "keep").read_text() == "host"


def test_a_folder_with_links_in_it_lists_them_and_opening_one_is_refused(machine, tmp_path):
    """The machine's / holds links (Debian's /sbin -> usr/sbin): the folder still lists, each link a
    file entry that is never followed; opening one says why in a sentence."""
    link_machine_root(tmp_path, machine)
    manager = MachineFilesManager(root_dir=str(tmp_path))
    assert machine.exec(["ln", "-sfn", "/etc", "/root/etc-link"]).returncode == 0
    listing = asyncio.run(manager.get("machine/root", content=True))
    entry = next(e for e in listing["content"] if e["name"] == "etc-link")
    assert entry["type"] == "file" and entry["writable"] is False
    top = asyncio.run(manager.get("machine", content=True))
    assert {"etc", "root"} <= {e["name"] for e in top["content"]}
    error = _error(manager.get("machine/root/etc-link", content=True, type="file", format="text"))
    assert error.status_code == 400 and "symbolic link" in error.log_message


def test_a_file_too_big_to_edit_is_refused_with_a_sentence(machine, tmp_path):
    link_machine_root(tmp_path, machine)
    manager = MachineFilesManager(root_dir=str(tmp_path))
    machine.exec(["sh", "-c", "head -c 5000000 /dev/zero > /root/big; mkfifo /root/fifo"])
    error = _error(manager.get("machine/root/big", content=True, type="file", format="text"))
    assert "too big to open" in error.log_message and "4 MiB" in error.log_message
    error = _error(manager.get("machine/root/fifo", content=True, type="file", format="text"))
    assert "not a regular file" in error.log_message  # a FIFO would hang the server


def test_a_save_into_a_stopped_or_reset_machine_is_refused_and_writes_nothing(machine, tmp_path):
    link_machine_root(tmp_path, machine)
    manager = MachineFilesManager(root_dir=str(tmp_path))
    asyncio.run(manager.get("machine/etc/hostname", content=True, type="file", format="text"))
    machine.reset()  # a new machine of the same name: what was opened before is not its file
    error = _error(manager.save({"type": "file", "format": "text", "content": "old\n"}, "machine/etc/hostname"))
    assert error.status_code == 409 and "was reset after you opened /etc/hostname" in error.log_message
    assert machine.exec(["cat", "/etc/hostname"]).out != "old\n"
    asyncio.run(manager.get("machine/etc/hostname", content=True, type="file", format="text"))  # reopened
    asyncio.run(manager.save({"type": "file", "format": "text", "content": "new\n"}, "machine/etc/hostname"))
    assert machine.exec(["cat", "/etc/hostname"]).out == "new\n"
    machine.stop()
    error = _error(manager.save({"type": "file", "format": "text", "content": "x\n"}, "machine/etc/hostname"))
    assert error.status_code == 409 and "is not running" in error.log_message
    assert os.listdir(machine.root) == []  # nothing landed in the empty mount point
    listing = asyncio.run(manager.get("machine", content=True))
    assert listing["type"] == "directory" and listing["content"] == []


def test_checkpoints_of_a_machines_file_never_follow_a_link_out_of_it(machine, tmp_path):
    from classroom.notebook.checkpoints import PrivateCheckpoints

    workspace = tmp_path / "ws"
    workspace.mkdir()
    link_machine_root(workspace, machine)
    manager = MachineFilesManager(root_dir=str(workspace), checkpoints_class=PrivateCheckpoints,
                                  checkpoints_kwargs={"root_dir": str(tmp_path / "checkpoints")})
    machine.exec(["sh", "-c", "echo mine > /root/notes"])
    checkpoint = asyncio.run(manager.create_checkpoint("machine/root/notes"))
    machine.exec(["sh", "-c", "echo changed > /root/notes"])
    asyncio.run(manager.restore_checkpoint(checkpoint["id"], "machine/root/notes"))
    assert machine.exec(["cat", "/root/notes"]).out == "mine\n"
    assert machine.exec(["find", "/root", "-name", ".ipynb_checkpoints"]).out == ""
    # The learner swaps the file for a link to a host file (a canary here): restoring writes nothing outside.
    canary = tmp_path / "canary"
    canary.write_text("host\n")
    machine.exec(["sh", "-c", f"rm /root/notes && ln -s {canary} /root/notes"])
    error = _error(manager.restore_checkpoint(checkpoint["id"], "machine/root/notes"))
    assert "not a regular file" in error.log_message
    assert canary.read_text() == "host\n"
    # The same when the checkpoints were made without the contents manager as their parent.
    bare = PrivateCheckpoints(root_dir=str(tmp_path / "checkpoints"))
    _error(bare.restore_checkpoint(manager, checkpoint["id"], "machine/root/notes"))
    assert canary.read_text() == "host\n"
