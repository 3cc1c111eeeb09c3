"""MailLab's grader: probes of a lab machine, checks declared per step, results, gradebook."""
from .check import Check, check, load_checks
from .errors import Fail
from .host import Backend, Host
from .i18n import _, joined, say
from .result import ItemResult, Status, StepResult

__all__ = ["check", "Fail", "_", "joined", "say", "Host", "StepResult", "ItemResult", "Status",
           "Check", "Backend", "load_checks"]
