"""Reading a learner's file for a probe: bounded, and in plain words when it cannot be read.

The learner owns the machine, so any path may hold a directory, a FIFO, a device, a symlink loop
or a file of gigabytes. A backend refuses to read what is not a regular file (reading a FIFO would
hang the grader); here that refusal becomes a Fail saying what is there, which the runner shows
with the check's hint, instead of an exception that reads as a grader bug.
"""
from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from .check import Fail
from .i18n import Msg, _

if TYPE_CHECKING:
    from .host import Backend


class UnreadableFile(Fail):
    """A path the probe must read holds something other than a readable regular file."""

    def __init__(self, path: str, error: OSError) -> None:
        super().__init__(_what_is_there(path, error))
        self.path = path
        self.errno = error.errno


def _what_is_there(path: str, error: OSError) -> Msg:
    if isinstance(error, IsADirectoryError):
        return _("{path} is a directory, not a file, so the grader cannot read it", path=path)
    if error.errno == errno.ELOOP:
        return _("{path} is a symbolic link that loops (or a chain of more than 40 links), so the grader cannot "
                 "read it", path=path)
    if error.errno == errno.EINVAL:
        return _("{path} is not a regular file (a FIFO, socket or device), so the grader cannot read it", path=path)
    if isinstance(error, NotADirectoryError):
        return _("{path} lies under something that is not a directory, so the grader cannot read it", path=path)
    if error.errno == errno.ENAMETOOLONG:
        return _("{path} is a path too long to follow, so the grader cannot read it", path=path)
    return _("{path} cannot be opened ({error}), so the grader cannot read it", path=path,
             error=error.strerror or str(error))


def read_file(backend: "Backend", path: str, limit: int, *, offset: int = 0) -> bytes | None:
    """At most `limit` bytes of `path` from `offset`; None when there is no such file.

    Raises UnreadableFile (a Fail) when something else stands at the path."""
    try:
        return backend.read_bytes(path, limit, offset=offset)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise UnreadableFile(path, error) from None
