"""Remote mail servers of the lab network, built on aiosmtpd, and the reader of what they received.

Each server runs as its own process (`python -m sandbox.mailserver CONFIG.json`, see server.py)
and stores every message it accepts as one JSON file in its spool folder. The grader reads them
with `messages(spool)` and `find(spool, queue_id=..., message_id=...)`; importing this package
does not load aiosmtpd. Modes (handlers.py): accept, reject, greylist, capture (also the SMTP
conversation) and verify (also SPF, DKIM and DMARC verdicts, asking the lab's DNS server: verdict.py).
"""
from .spool import Received, find, messages

__all__ = ["Received", "find", "messages"]
