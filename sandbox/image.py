"""The lab image: a Debian bookworm root file system built with mmdebstrap, cached by recipe.

The recipe (sandbox/recipe/) is data: the tool list, the offline package sets and the customize
hook. Its hash names the cache entry, so editing the recipe builds a new image and an unchanged
recipe costs nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from . import paths
from .errors import SandboxError, _
from .progress import PhaseProgress

RECIPE = Path(__file__).with_name("recipe")
SUITE = "bookworm"
RECIPE_VERSION = 1


def mirrors() -> list[str]:
    """Debian mirrors for the build ($MAILLAB_MIRROR overrides the main archive)."""
    main = os.environ.get("MAILLAB_MIRROR", "http://deb.debian.org/debian")
    security = os.environ.get("MAILLAB_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
    return [
        f"deb {main} {SUITE} main",
        f"deb {main} {SUITE}-updates main",
        f"deb {security} {SUITE}-security main",
    ]


def _read_list(name: str) -> list[str]:
    lines = (RECIPE / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def recipe_key() -> str:
    digest = hashlib.sha256()
    digest.update(f"{RECIPE_VERSION}\n{SUITE}\n".encode())
    for line in mirrors():
        digest.update(line.encode() + b"\n")
    for path in sorted(RECIPE.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def image_root(key: str | None = None) -> Path:
    return paths.images_dir() / (key or recipe_key()) / "rootfs"


def is_built(key: str | None = None) -> bool:
    return (image_root(key).parent / "image.json").is_file()


def ensure_image(*, quiet: bool = False) -> Path:
    """The current image's root, building it first when it is not cached."""
    if is_built():
        return image_root()
    return build(quiet=quiet)


def _check_tools() -> None:
    if os.geteuid() != 0:
        raise SandboxError(_("Building the lab image needs root: run this command as root."))
    if shutil.which("mmdebstrap") is None:
        raise SandboxError(_("mmdebstrap is not installed: run `apt-get install mmdebstrap` (or the README's "
                             "first command)."))


# mmdebstrap's own progress lines, mapped to how far along the build is.
_PHASES = [
    ("running apt-get update", 0.05, "Reading package lists"),
    ("downloading packages", 0.10, "Downloading Debian"),
    ("extracting archives", 0.25, "Unpacking Debian"),
    ("installing essential packages", 0.35, "Installing the base system"),
    ("installing remaining packages", 0.50, "Installing the learner's tools"),
    ("running --customize-hook", 0.70, "Preparing the offline package repository"),
    ("cleaning package lists", 0.95, "Cleaning up"),
]


def build(*, quiet: bool = False, force: bool = False) -> Path:
    """Build the image for the current recipe (atomically: a half-built image is never used)."""
    _check_tools()
    key = recipe_key()
    final = paths.images_dir() / key
    if is_built(key) and not force:
        return image_root(key)
    if force and _in_use(final):
        raise SandboxError(_("Lab machines are running on the current image: stop them first (`maillab down "
                             "--all`)."))
    paths.images_dir().mkdir(parents=True, exist_ok=True)
    work = paths.images_dir() / f".build-{key}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    log_path = paths.images_dir() / f"build-{key}.log"
    argv = [
        "mmdebstrap", "--variant=minbase", "--mode=root", "--format=directory",
        "--verbose",
        "--include=" + ",".join(_read_list("tools.txt")),
        f"--customize-hook={RECIPE / 'customize.sh'} \"$1\"",
        SUITE, str(work / "rootfs"), *mirrors(),
    ]
    progress = PhaseProgress("Building the lab image", enabled=not quiet)
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        for line in proc.stdout or []:
            log.write(line)
            lowered = line.lower()
            for needle, fraction, label in _PHASES:
                if needle in lowered:
                    progress.update(fraction, label)
        code = proc.wait()
    if code != 0:
        progress.done("failed")
        shutil.rmtree(work, ignore_errors=True)
        tail = "".join(Path(log_path).read_text(errors="replace").splitlines(True)[-5:]).strip()
        raise SandboxError(
            _("Building the lab image failed (mmdebstrap exit {code}). The full log is {log}. Last "
              "lines:\n{detail}", code=code, log=log_path, detail=tail)
        )
    meta = {"key": key, "suite": SUITE, "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.monotonic() - started, 1), "tools": _read_list("tools.txt")}
    (work / "image.json").write_text(json.dumps(meta, indent=2))
    if final.exists():
        shutil.rmtree(final)
        shutil.rmtree(paths.layers_dir(), ignore_errors=True)  # starting states were built on the old image
    os.rename(work, final)
    progress.done(f"done in {meta['seconds']:.0f} s")
    return image_root(key)


def _in_use(folder: Path) -> bool:
    try:
        mounts = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return False
    return str(folder) in mounts
