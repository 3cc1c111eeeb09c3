"""MailLab's grader: probes of a lab machine, checks declared per step, results, gradebook."""
from .check import Check, Fail, check, load_checks
from .host import Backend, Host
from .i18n import _, joined, say
from .result import ItemResult, Status, StepResult

__all__ = ["check", "Fail", "_", "joined", "say", "Host", "StepResult", "ItemResult", "Status",
           "Check", "Backend", "load_checks"]
