"""A one-line progress bar for long sandbox work (image builds, layer builds)."""
from __future__ import annotations

import sys


class PhaseProgress:
    def __init__(self, title: str, *, enabled: bool = True, stream=None, width: int = 30):
        self.title = title
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.width = width
        self.fraction = 0.0
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        if enabled:
            self._draw("starting")

    def update(self, fraction: float, label: str) -> None:
        if fraction <= self.fraction:
            return
        self.fraction = fraction
        if self.enabled:
            self._draw(label)

    def done(self, label: str) -> None:
        if self.enabled:
            if label != "failed":
                self.fraction = 1.0
            self._draw(label)
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()

    def _draw(self, label: str) -> None:
        filled = int(self.fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"{self.title} [{bar}] {self.fraction:4.0%} {label}"
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
