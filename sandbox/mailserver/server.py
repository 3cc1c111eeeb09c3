"""Run one remote mail server until SIGTERM or SIGINT: `python -m sandbox.mailserver CONFIG.json`.

Once it listens it writes the `ready` file (JSON: pid and the address it listens on), so whoever
started it can wait for that file; it removes the file when it stops. A bad settings file or an
address it cannot listen on is one sentence on stderr and exit status 2.
"""
from __future__ import annotations

import asyncio
import secrets
import errno
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..errors import SandboxError
from . import config as config_module
from .config import ConfigError, ServerConfig
from .handlers import handler_for
from .protocol import LabSMTP

# A server that records conversations (a learner speaking SMTP by hand) names a word in its greeting,
# new for each connection, that the learner's Subject must repeat: only someone who read the answer can.
WORDS = ("apple", "banjo", "cactus", "dolphin", "ember", "falcon", "garnet", "harbor", "iris", "jasper",
         "kettle", "lantern", "maple", "nutmeg", "orchid", "pepper", "quartz", "raven", "saffron", "tulip",
         "umber", "violet", "walnut", "yarrow", "zephyr")
IDLE_TIMEOUT = 120              # seconds a client may stay silent before it is cut off
EXIT_BAD_SETUP = 2


def greeting_words(word: str) -> str:
    """What follows the host name in the 220 greeting of a recording server."""
    return f"ESMTP; to show you read this, put the word '{word}' in your Subject"


async def serve(config: ServerConfig) -> None:
    """Listen until SIGTERM/SIGINT. Raises OSError when it cannot listen."""
    loop = asyncio.get_running_loop()
    handler = handler_for(config)

    def session() -> LabSMTP:
        return LabSMTP(handler, record=handler.records_transcript, hostname=config.hostname,
                       ident=greeting_words(secrets.choice(WORDS)) if handler.records_transcript else "ESMTP",
                       data_size_limit=config.size_limit, enable_SMTPUTF8=True, timeout=IDLE_TIMEOUT, loop=loop)

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = await loop.create_server(session, config.host, config.port, reuse_address=True)
    try:
        if config.ready is not None:
            host, port = server.sockets[0].getsockname()[:2]
            try:
                _write_atomically(config.ready, json.dumps({"pid": os.getpid(), "listen": [host, port]}) + "\n")
            except OSError as error:
                raise ConfigError(f"cannot write the ready file {config.ready} ({error.strerror}).") from None
        await stop.wait()
    finally:
        server.close()  # open sessions end when the process does
        if config.ready is not None:
            try:
                config.ready.unlink()
            except OSError:
                pass


def wait_ready(ready: Path, process: subprocess.Popen, timeout: float = 5.0) -> tuple[str, int]:
    """For the starter: wait until the server listens; returns its (address, port)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            host, port = json.loads(ready.read_text())["listen"]
            return host, port
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if process.poll() is not None:
            raise SandboxError(f"The mail server stopped before it listened (exit status {process.returncode}); "
                               "its error output says why.")
        if time.monotonic() > deadline:
            raise SandboxError(f"The mail server did not listen within {timeout:g} s.")
        time.sleep(0.005)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m sandbox.mailserver CONFIG.json", file=sys.stderr)
        return EXIT_BAD_SETUP
    try:
        config = config_module.load(argv[0])
        _prepare(config)
    except ConfigError as error:
        print(f"mailserver: {error}", file=sys.stderr)
        return EXIT_BAD_SETUP
    # A learner's stray commands are not worth a warning on stderr; real trouble still is.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    try:
        asyncio.run(serve(config))
    except ConfigError as error:
        print(f"mailserver {config.name}: {error}", file=sys.stderr)
        return EXIT_BAD_SETUP
    except OSError as error:
        print(f"mailserver {config.name}: cannot listen on {config.host} port {config.port}: "
              f"{_why_not_listening(error)}.", file=sys.stderr)
        return EXIT_BAD_SETUP
    return 0


def _why_not_listening(error: OSError) -> str:
    said = os.strerror(error.errno).lower() if error.errno else str(error)
    advice = {errno.EADDRINUSE: "another program listens there already",
              errno.EADDRNOTAVAIL: "no network interface here has that address",
              errno.EACCES: "ports below 1024 need root"}.get(error.errno)
    return f"{said} ({advice})" if advice else said


def _prepare(config: ServerConfig) -> None:
    """Make the spool folder and clear an old ready file, or say why that is impossible."""
    try:
        config.spool.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f'cannot make the spool folder {config.spool} ({error.strerror}).') from None
    if config.ready is not None:
        try:
            config.ready.unlink(missing_ok=True)
        except OSError as error:
            raise ConfigError(f'cannot replace the ready file {config.ready} ({error.strerror}).') from None


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
