"""Errors the sandbox raises. Each message is a plain sentence a learner can act on."""


class SandboxError(Exception):
    """The sandbox could not do what was asked (missing image, machine not running, ...)."""


class MachineNotRunning(SandboxError):
    """The machine exists on disk but its processes are not running (or it was never created)."""


class CommandTimeout(SandboxError):
    """A command inside a machine did not finish within its time bound; it was killed."""

    def __init__(self, argv, timeout, output=b""):
        self.argv = list(argv)
        self.timeout = timeout
        self.output = output
        shown = " ".join(self.argv)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"The command `{shown}` did not finish within {timeout:g} s and was stopped.")
