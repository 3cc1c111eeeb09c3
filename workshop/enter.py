"""Run a command inside your own lab machine, through the workshop's grader service.

    python -m workshop.enter [--lab LAB] [--machine M] [--tty] -- CMD...
    python -m workshop.enter --shell          (the JupyterLab Terminal: a login shell, on this terminal)

Our standard input, output and error go to the service with the request, so the command inside
reads and writes them directly. Signals we get are passed on; if we die, the service ends the
command. The exit code is the command's.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

from grader.errors import MailLabError
from grader.i18n import say, tr, translate

from . import client, protocol

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workshop.enter")
    parser.add_argument("--lab", default=None)
    parser.add_argument("--machine", default=None)
    parser.add_argument("--tty", action="store_true")
    parser.add_argument("--shell", action="store_true", help=tr("a login shell on this terminal"))
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if args.shell:
        command, args.tty = ["/bin/bash", "-l"], True
    if not command:
        print(tr("Say which command to run in your machine."), file=sys.stderr)
        return 2
    request = {"op": "exec", "lab": args.lab, "machine": args.machine, "argv": command,
               "tty": args.tty and os.isatty(0), "term": os.environ.get("TERM", "xterm-256color")}
    try:
        sock = client.connect()
    except MailLabError as exc:
        print(say(exc), file=sys.stderr)
        return 1
    with sock:
        def forward(signum, _frame):
            try:
                protocol.send(sock, {"signal": int(signum)})
            except OSError:
                pass

        for signum in FORWARDED:
            signal.signal(signum, forward)
        try:
            protocol.send(sock, request, [0, 1, 2])
            result = client.answer(protocol.Reader(sock))
        except MailLabError as exc:
            print(say(exc), file=sys.stderr)
            return 1
        except OSError as exc:
            print(translate(client.unreachable(exc.strerror or str(exc))), file=sys.stderr)
            return 1
    return int(result.get("exit", 1))


if __name__ == "__main__":
    sys.exit(main())
