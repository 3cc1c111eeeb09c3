"""Where MailLab keeps its state on the host (images, layers, machines, gradebook)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

DEFAULT_HOME = "/var/lib/maillab"


def home() -> Path:
    """The state directory: $MAILLAB_HOME, else /var/lib/maillab."""
    return Path(os.environ.get("MAILLAB_HOME", DEFAULT_HOME))


_tags: dict[str, str] = {}  # home as given -> its tag (a check names its cgroups a dozen times)


def host_tag() -> str:
    """A short name for this state directory in host-wide names (cgroups, network namespaces), so
    two MailLab installations with different homes on one host never share one."""
    given = str(home())
    if given not in _tags:
        where = str(home().resolve())
        _tags[given] = "maillab" if where == DEFAULT_HOME else "maillab-" + hashlib.sha1(where.encode()).hexdigest()[:8]
    return _tags[given]


def images_dir() -> Path:
    return home() / "images"


def layers_dir() -> Path:
    return home() / "layers"


def machines_dir() -> Path:
    return home() / "machines"
