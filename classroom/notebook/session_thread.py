"""One thread for every call the notebook makes into a LabSession.

A Check button must not freeze the kernel while a check runs (seconds, for delivery checks), so
clicks run the check off the main thread. Cells that call the session wait for the same thread,
so the session and its gradebook (SQLite connections belong to the thread that opened them) are
only ever used from one thread, one call at a time.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_worker = threading.local()


def _mark_worker() -> None:
    _worker.is_session_thread = True


_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="maillab-session",
                               initializer=_mark_worker)


def on_session_thread() -> bool:
    return getattr(_worker, "is_session_thread", False)


def submit(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    return _executor.submit(fn, *args, **kwargs)


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run fn on the session thread and wait for it (its exception is raised here)."""
    if on_session_thread():  # already there (a callback of a check): waiting would deadlock
        return fn(*args, **kwargs)
    return _executor.submit(fn, *args, **kwargs).result()
