"""Where MailLab keeps its state on the host (images, layers, machines, gradebook)."""
from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The state directory: $MAILLAB_HOME, else /var/lib/maillab."""
    return Path(os.environ.get("MAILLAB_HOME", "/var/lib/maillab"))


def images_dir() -> Path:
    return home() / "images"


def layers_dir() -> Path:
    return home() / "layers"


def machines_dir() -> Path:
    return home() / "machines"
