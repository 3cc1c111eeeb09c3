"""Errors a learner or instructor sees as one plain sentence (never a traceback)."""


class MailLabError(Exception):
    """Something the user can fix; the message says what is wrong and what to do."""


class UsageError(MailLabError):
    """A wrong command line, an unknown lab or step (CLI exit code 2)."""
