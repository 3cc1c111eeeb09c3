"""DMARC, as a receiving provider applies it, in small pure functions (RFC 7489, simplified for the lab).

The record at _dmarc.<From: domain> (or, when there is none, at the organizational domain's) starts
with v=DMARC1 and names a policy p= none|quarantine|reject; adkim= and aspf= say how the DKIM d= and
the SPF domain must match the From: domain: r (relaxed, the default: the same organizational domain)
or s (strict: the same name). The organizational domain is the last two labels, which is what the
lab's domains (example.test, remote.test) are.
"""
from __future__ import annotations

from typing import Callable

POLICIES = ("none", "quarantine", "reject")
ALIGNMENTS = ("r", "s")


class RecordError(ValueError):
    """The DMARC record does not parse; the message says why."""


def organizational(domain: str) -> str:
    return ".".join(_norm(domain).split(".")[-2:])


def aligned(domain: str, from_domain: str, mode: str) -> bool:
    """Whether an authenticated domain matches the From: domain, strictly ("s") or relaxed ("r")."""
    if not domain or not from_domain:
        return False
    if mode == "s":
        return _norm(domain) == _norm(from_domain)
    return organizational(domain) == organizational(from_domain)


def parse_record(text: str) -> dict[str, str]:
    """The tags of a DMARC record: p, sp, adkim, aspf (with their defaults). Raises RecordError."""
    parts = [part.strip() for part in text.split(";")]
    if not parts or parts[0].replace(" ", "") != "v=DMARC1":
        raise RecordError("the record does not start with v=DMARC1")
    tags: dict[str, str] = {}
    for part in parts[1:]:
        if not part:
            continue
        name, eq, value = part.partition("=")
        name, value = name.strip().lower(), value.strip()
        if not eq or not name:
            raise RecordError(f"{part[:40]!r} is not a tag=value pair")
        tags.setdefault(name, value)
    if "p" not in tags:
        raise RecordError("the record has no p= (the policy)")
    record = {"p": tags["p"].lower(), "sp": tags.get("sp", tags["p"]).lower(),
              "adkim": tags.get("adkim", "r").lower(), "aspf": tags.get("aspf", "r").lower()}
    for key, allowed in (("p", POLICIES), ("sp", POLICIES), ("adkim", ALIGNMENTS), ("aspf", ALIGNMENTS)):
        if record[key] not in allowed:
            raise RecordError(f"{key}={record[key][:20]} is not one of {'|'.join(allowed)}")
    return record


def is_dmarc(text: str) -> bool:
    """Whether a TXT record at _dmarc is meant as a DMARC record (so it must parse)."""
    return text.replace(" ", "").startswith("v=DMARC1")


def evaluate(from_domain: str | None, txt: Callable[[str], list[str]], *, spf_result: str, spf_domain: str,
             dkim_result: str, dkim_domain: str) -> dict[str, str]:
    """The DMARC verdict: {"result": pass|fail|none|permerror, "domain", "policy", "reason"}.
    `txt(name)` gives the TXT records of a name (it may raise; the caller turns that into temperror)."""
    if not from_domain:
        return _verdict("none", "", "", "the message has no From: address with a domain")
    from_domain = _norm(from_domain)
    found_at, records = f"_dmarc.{from_domain}", []
    for name in dict.fromkeys((from_domain, organizational(from_domain))):
        found_at = f"_dmarc.{name}"
        records = [r for r in txt(found_at) if is_dmarc(r)]
        if records:
            break
    if not records:
        return _verdict("none", from_domain, "", f"no DMARC record at _dmarc.{from_domain}")
    if len(records) > 1:
        return _verdict("none", from_domain, "", f"{len(records)} DMARC records at {found_at} (there must be one)")
    try:
        record = parse_record(records[0])
    except RecordError as error:
        return _verdict("permerror", from_domain, "", f"the record at {found_at} does not parse: {error}")
    policy = record["p"] if found_at == f"_dmarc.{from_domain}" else record["sp"]
    if spf_result == "pass" and aligned(spf_domain, from_domain, record["aspf"]):
        return _verdict("pass", from_domain, policy, f"SPF passed for {spf_domain}, aligned with {from_domain}")
    if dkim_result == "pass" and aligned(dkim_domain, from_domain, record["adkim"]):
        return _verdict("pass", from_domain, policy, f"DKIM passed for d={dkim_domain}, aligned with {from_domain}")
    return _verdict("fail", from_domain, policy, _why_not(record, from_domain, spf_result, spf_domain,
                                                           dkim_result, dkim_domain))


def _why_not(record: dict, from_domain: str, spf_result: str, spf_domain: str, dkim_result: str,
             dkim_domain: str) -> str:
    mode = {"r": "relaxed", "s": "strict"}
    spf = (f"SPF {spf_result} for {spf_domain or 'no domain'}" if spf_result != "pass"
           else f"SPF passed for {spf_domain}, not aligned ({mode[record['aspf']]}) with {from_domain}")
    dkim = (f"DKIM {dkim_result}" + (f" for d={dkim_domain}" if dkim_domain else "") if dkim_result != "pass"
            else f"DKIM passed for d={dkim_domain}, not aligned ({mode[record['adkim']]}) with {from_domain}")
    return f"neither SPF nor DKIM passed aligned with {from_domain}: {spf}; {dkim}"


def _verdict(result: str, domain: str, policy: str, reason: str) -> dict[str, str]:
    return {"result": result, "domain": domain, "policy": policy, "reason": reason}


def _norm(domain: str) -> str:
    return domain.strip().rstrip(".").lower()
