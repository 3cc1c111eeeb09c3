"""JupyterLab's file manager, made to write into a lab machine as the machine's root.

With a user namespace the host's root ids have no place in a machine: a file the server (root on
the host) creates under the `machine` link would fail, or belong to nobody inside. Saves, new
files, new folders and copies under a machine's root are therefore done with the file-system ids
of the machine's root (sandbox Machine.as_root): inside, they are root's, as if made there.
"""
from __future__ import annotations

from jupyter_server.services.contents.fileio import FileManagerMixin, copy2_safe
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager, LargeFileManager

from sandbox.machine import machine_of_path


class MachineFilesManager(AsyncLargeFileManager):
    async def _save_file(self, os_path, content, format):
        machine = machine_of_path(os_path)
        if machine is None:
            return await super()._save_file(os_path, content, format)
        with self.perm_to_403(os_path):
            machine.as_root(lambda: FileManagerMixin._save_file(self, os_path, content, format))

    async def _save_large_file(self, os_path, content, format):
        machine = machine_of_path(os_path)
        if machine is None:
            return await super()._save_large_file(os_path, content, format)
        machine.as_root(lambda: LargeFileManager._save_large_file(self, os_path, content, format))

    async def _save_directory(self, os_path, model, path=""):
        machine = machine_of_path(os_path)
        if machine is None:
            return await super()._save_directory(os_path, model, path)
        machine.as_root(lambda: LargeFileManager._save_directory(self, os_path, model, path))

    async def _copy(self, src, dest):
        machine = machine_of_path(dest)
        if machine is None:
            return await super()._copy(src, dest)
        machine.as_root(lambda: copy2_safe(src, dest, log=self.log))
