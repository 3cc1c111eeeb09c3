"""nbclient for the tests, with the kernel's replies read in slices of a second.

pyzmq's asyncio poll can miss a reply that arrives while the client is busy with the kernel's other
channel: the reply then waits in the socket until the poll's own timeout, the whole cell timeout
(300 s), and the notebook goes on as if nothing happened. Polling again every second finds it.
"""
from __future__ import annotations

import time
from queue import Empty

from nbclient import NotebookClient

SLICE = 1.0


def _patient(channel) -> None:
    wait = channel.get_msg

    async def get_msg(timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = SLICE if deadline is None else max(0.0, min(SLICE, deadline - time.monotonic()))
            try:
                return await wait(timeout=left)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    channel.get_msg = get_msg


class PatientClient(NotebookClient):
    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        _patient(kc.shell_channel)
        _patient(kc.iopub_channel)
        return kc
