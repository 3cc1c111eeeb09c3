"""Small things the workshop's hub-managed services share."""
from __future__ import annotations

import os
import signal
import threading
import time


def exit_with_parent() -> None:
    """Hub-managed services end when the hub does, even if it died without stopping them."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()
