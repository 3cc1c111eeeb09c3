"""MailLab's grader: probes of a lab machine, checks declared per step, results, gradebook."""
from .check import Check, Fail, check, load_checks
from .host import Backend, Host
from .result import ItemResult, Status, StepResult

__all__ = ["check", "Fail", "Host", "StepResult", "ItemResult", "Status",
           "Check", "Backend", "load_checks"]
