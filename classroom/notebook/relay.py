"""Run a command and pass its output on, until the command itself has ended.

A daemon that a command starts can keep the command's output open for good (Dovecot's master
keeps its standard error), and whoever reads that output to its end would wait forever: a
notebook cell with `service dovecot start` would never finish. The relay reads the command's
output through a pipe of its own (a pty when its own output is a terminal, so programs still see
one) and stops reading shortly after the command exits. Standard library only: it starts fast.

    python relay.py COMMAND [ARG...]
"""
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time

GRACE = 0.3  # seconds of output still passed on after the command ended


def _channel(out: int) -> tuple[int, int]:
    if not os.isatty(out):
        return os.pipe()
    reader, writer = pty.openpty()
    attrs = termios.tcgetattr(writer)
    attrs[1] &= ~termios.OPOST  # newlines pass as they are: the outer terminal adds the \r
    termios.tcsetattr(writer, termios.TCSANOW, attrs)
    return reader, writer


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: relay.py COMMAND [ARG...]", file=sys.stderr)
        return 2
    out = sys.stdout.fileno()
    reader, writer = _channel(out)
    proc = subprocess.Popen(argv, stdout=writer, stderr=writer)
    os.close(writer)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, _frame: proc.send_signal(number))
    ended = None
    while True:
        if ended is None and proc.poll() is not None:
            ended = time.monotonic()
        if ended is not None and time.monotonic() - ended > GRACE:
            break
        if not select.select([reader], [], [], 0.05)[0]:
            continue
        try:
            data = os.read(reader, 65536)
        except OSError:  # a pty whose every writer has gone
            data = b""
        if not data:
            break
        try:
            _write_all(out, data)
        except BrokenPipeError:
            break
    code = proc.wait()
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
