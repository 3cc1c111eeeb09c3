"""Mode "verify": what a receiving mail provider makes of a message, SPF, DKIM and DMARC.

`verdicts(...)` returns {"spf": {...}, "dkim": {...}, "dmarc": {...}}, each a small dict with a
"result" and a few strings of at most TEXT_LIMIT characters. Every DNS question goes to the lab's
DNS server through one LabDNS (labdns.py), under one deadline. The message and the DNS answers come
from machines a learner is root on, so nothing here may hang or fail: a DKIM key is checked for its
size before any RSA arithmetic, and anything unexpected becomes a temperror with a short reason.
"""
from __future__ import annotations

import base64
import binascii
import email.utils
import logging
import re

import dkim
import spf
from dkim.crypto import UnparsableKeyError, parse_public_key

from . import dmarc
from .labdns import LabDNS, LookupFailed

TEXT_LIMIT = 300
KEY_CHARS = 2000          # base64 characters of a DKIM key's p= (a 4096-bit RSA key takes about 740)
KEY_BITS = 4096
MAX_EXPONENT = 2**32      # real keys use 65537; a huge one would make the RSA check slow
MAX_SIGNATURES = 5        # DKIM-Signature headers looked at, topmost first
SECONDS = 8.0

# dkimpy reports what went wrong with a key on its logger as well as in its result; we say it ourselves.
_QUIET = logging.getLogger("sandbox.mailserver.dkim")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def verdicts(data: bytes, *, client_ip: str, helo: str | None, mail_from: str, dns_server: str,
             dns_port: int = 53, seconds: float = SECONDS) -> dict[str, dict[str, str]]:
    """SPF, DKIM and DMARC verdicts of one message; never raises."""
    lookup = LabDNS(dns_server, dns_port, seconds=seconds)
    mail_from = "" if mail_from in ("<>", None) else mail_from
    helo = (helo or "").strip()
    spf_verdict = _guarded(lambda: check_spf(lookup, client_ip, mail_from, helo))
    dkim_verdict = _guarded(lambda: check_dkim(lookup, data))
    dmarc_verdict = _guarded(lambda: dmarc.evaluate(
        from_domain(data), _txt_or_fail(lookup), spf_result=spf_verdict["result"],
        spf_domain=spf_verdict.get("domain", ""), dkim_result=dkim_verdict["result"],
        dkim_domain=dkim_verdict.get("domain", "")))
    return {"spf": _bounded(spf_verdict), "dkim": _bounded(dkim_verdict), "dmarc": _bounded(dmarc_verdict)}


def took_too_long() -> dict[str, dict[str, str]]:
    """The verdicts of a message whose checks did not end in time."""
    late = {"result": "temperror", "reason": "took too long"}
    return {"spf": dict(late), "dkim": dict(late), "dmarc": dict(late)}


# -- SPF ---------------------------------------------------------------------------------------
class _LabQuery(spf.query):
    """pyspf's query with every DNS question asked of the lab's DNS server (only this query's)."""

    def __init__(self, lookup: LabDNS, *args, **kwargs) -> None:
        self.lab_dns = lookup
        super().__init__(*args, **kwargs)

    def dns(self, name, qtype, cnames=None, ignore_void=False):
        name = str(name).rstrip(".").lower()
        if not name or not all(0 < len(label) < 64 for label in name.split(".")):
            return []
        key = (name, qtype)
        if key not in self.cache:
            if qtype == "SPF":  # the old SPF type is asked for in "harsh" mode only; it is long gone
                return []
            try:
                records = self.lab_dns.query(name, qtype)
            except LookupFailed as error:
                raise spf.TempError(str(error)) from None
            self.cache[key] = [_spf_value(qtype, r) for r in records]
        result = self.cache[key]
        if not result and not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(f"Void lookup limit of {spf.MAX_VOID_LOOKUPS} exceeded")
        return result


def _spf_value(qtype: str, rdata):
    """A record the way pyspf's own DNS drivers hand it over."""
    if qtype in ("A", "AAAA"):
        return rdata.address
    if qtype == "MX":
        return (rdata.preference, rdata.exchange.to_text(True))
    if qtype == "PTR":
        return rdata.target.to_text(True)
    return list(rdata.strings)  # TXT: the strings, as bytes


def check_spf(lookup: LabDNS, client_ip: str, mail_from: str, helo: str) -> dict[str, str]:
    sender = mail_from or (f"postmaster@{helo}" if helo else "")
    domain = sender.rpartition("@")[2].rstrip(".").lower()
    if not domain:
        return {"result": "none", "domain": "", "explanation": "no MAIL FROM domain and no HELO name to check"}
    query = _LabQuery(lookup, i=client_ip, s=sender, h=helo or domain)
    result, _code, explanation = query.check()
    return {"result": str(result), "domain": domain, "explanation": str(explanation)}


# -- DKIM --------------------------------------------------------------------------------------
class _Stop(Exception):
    """The key lookup decided the verdict (the key is missing, too large, unusable; DNS failed)."""

    def __init__(self, result: str, reason: str) -> None:
        super().__init__(reason)
        self.result, self.reason = result, reason


def _key_lookup(lookup: LabDNS):
    """dkimpy's dnsfunc: the key record, checked for size and form before dkimpy computes anything."""

    def get_txt(name, timeout=5):
        name = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
        name = name.rstrip(".")
        try:
            records = lookup.txt(name)
        except LookupFailed as error:
            raise _Stop("temperror", f"key lookup at {name} failed: {error}") from None
        if not records:
            raise _Stop("permerror", f"no key at {name}")
        record = records[0]
        tags = _tags(record)
        if len(tags.get("p", "")) > KEY_CHARS:
            raise _Stop("permerror", f"key too large at {name}")
        if not tags.get("p"):
            raise _Stop("permerror", f"the key at {name} has no p= (revoked or incomplete)")
        if tags.get("k", "rsa").lower() == "rsa":
            _check_rsa(name, tags["p"])
        return record.encode("ascii", "replace")

    return get_txt


def _check_rsa(name: str, p: str) -> None:
    try:
        key = parse_public_key(base64.b64decode(re.sub(r"\s+", "", p), validate=True))
        modulus, exponent = key["modulus"], key["publicExponent"]
    except (binascii.Error, ValueError, UnparsableKeyError, KeyError, IndexError, TypeError):
        raise _Stop("permerror", f"the key at {name} is not a usable RSA public key") from None
    if not isinstance(modulus, int) or not isinstance(exponent, int):
        raise _Stop("permerror", f"the key at {name} is not a usable RSA public key")
    if modulus.bit_length() > KEY_BITS:
        raise _Stop("permerror", f"key too large at {name} ({modulus.bit_length()} bits; at most {KEY_BITS})")
    if not 3 <= exponent <= MAX_EXPONENT:
        raise _Stop("permerror", f"the key at {name} has an unusable RSA exponent")


def _tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        name, _eq, value = part.partition("=")
        tags.setdefault(name.strip().lower(), re.sub(r"\s+", "", value))
    return tags


def check_dkim(lookup: LabDNS, data: bytes) -> dict[str, str]:
    """The verdict of the first DKIM signature that passes, else of the topmost one."""
    try:
        checker = dkim.DKIM(data, logger=_QUIET, minkey=1024)
    except (dkim.DKIMException, IndexError) as error:
        return _dkim("permerror", "", "", f"the message's header cannot be read ({_short(error)})")
    count = sum(1 for name, _value in checker.headers if name.lower() == b"dkim-signature")
    if not count:
        return _dkim("none", "", "", "the message has no DKIM-Signature")
    first = None
    for index in range(min(count, MAX_SIGNATURES)):
        verdict = _one_signature(checker, index, _key_lookup(lookup))
        if verdict["result"] == "pass":
            return verdict
        first = first or verdict
    return first


def _one_signature(checker: dkim.DKIM, index: int, get_txt) -> dict[str, str]:
    checker.domain = checker.selector = None
    try:
        good = checker.verify(idx=index, dnsfunc=get_txt)
    except _Stop as stop:
        return _dkim(stop.result, checker.domain, checker.selector, stop.reason)
    except dkim.ValidationError as error:
        if "body hash mismatch" in str(error):
            return _dkim("fail", checker.domain, checker.selector, "body hash did not match")
        return _dkim("permerror", checker.domain, checker.selector, f"signature unusable: {_short(error)}")
    except dkim.KeyFormatError as error:
        return _dkim("permerror", checker.domain, checker.selector, f"key unusable: {_short(error)}")
    except dkim.DKIMException as error:
        return _dkim("permerror", checker.domain, checker.selector, f"signature unusable: {_short(error)}")
    if good:
        return _dkim("pass", checker.domain, checker.selector, "signature verified")
    return _dkim("fail", checker.domain, checker.selector, "signature did not verify")


def _dkim(result: str, domain, selector, reason: str) -> dict[str, str]:
    return {"result": result, "domain": _text(domain).lower(), "selector": _text(selector), "reason": reason}


# -- DMARC's inputs ----------------------------------------------------------------------------
def from_domain(data: bytes) -> str | None:
    """The domain of the From: header's first address (header block only, bounded)."""
    head = data[:100 * 1024].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")
    values, current = [], None
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and current is not None:
            values[current] += " " + line.strip()
            continue
        current = None
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() == "from":
            values.append(value.strip())
            current = len(values) - 1
    for _name, address in email.utils.getaddresses(values[:1]):
        domain = address.rpartition("@")[2].strip().rstrip(".")
        if "@" in address and domain:
            return domain.lower()
    return None


def _txt_or_fail(lookup: LabDNS):
    def txt(name: str) -> list[str]:
        try:
            return lookup.txt(name)
        except LookupFailed as error:
            raise _Stop("temperror", f"DMARC lookup at {name} failed: {error}") from None
    return txt


# -- bounds ------------------------------------------------------------------------------------
def _guarded(check) -> dict[str, str]:
    try:
        return check()
    except _Stop as stop:
        return {"result": stop.result, "reason": stop.reason}
    except Exception as error:  # noqa: BLE001 - a hostile message or answer must never stop the server
        return {"result": "temperror", "reason": f"the check failed unexpectedly ({_short(error)})"}


def _bounded(verdict: dict) -> dict[str, str]:
    return {str(k)[:40]: _text(v)[:TEXT_LIMIT] for k, v in verdict.items()}


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value)


def _short(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:150]}"
