"""A remote mail server's settings: one JSON file, checked field by field with a sentence per mistake."""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

from . import spool as spool_module

MODES = ("accept", "reject", "greylist", "capture", "verify")
_REQUIRED = ("name", "hostname", "listen", "domains", "spool")
_FIELDS = ("name", "hostname", "listen", "domains", "mode", "reject", "greylist_seconds", "spool", "ready",
           "size_limit", "spool_bytes", "spool_messages", "dns", "dns_port")
# What the caps may be set to. A message stays well under the lab node's file size limit (16 MiB,
# sandbox/network.py), which would otherwise turn a big message into an endless 451.
SIZE_LIMIT_RANGE = (1024, 15 * 2**20)
SPOOL_BYTES_RANGE = (1024, 1024 * 2**20)
SPOOL_MESSAGES_RANGE = (1, 10_000)
EXAMPLE = ('{"name": "mx1", "hostname": "mx1.remote.test", "listen": ["198.51.100.10", 25], '
           '"domains": ["remote.test"], "mode": "accept", "spool": "/abs/dir", "ready": "/abs/file"}')


class ConfigError(ValueError):
    """The settings file is missing or wrong; the message says what to change."""


@dataclass(frozen=True)
class ServerConfig:
    name: str
    hostname: str            # named in the banner and the EHLO reply
    host: str                # the address it listens on
    port: int                # 0: any free port (the ready file tells which)
    domains: tuple[str, ...]  # lower case; mail for any other domain is relay denied
    mode: str
    reject: frozenset[str]   # lower-case addresses answered "User unknown"
    greylist_seconds: float
    spool: Path
    ready: Path | None
    size_limit: int = spool_module.SIZE_LIMIT          # bytes of one message: 552 above (SIZE in EHLO)
    spool_bytes: int = spool_module.SPOOL_BYTES        # bytes of all stored messages: 452 beyond
    spool_messages: int = spool_module.SPOOL_MESSAGES  # stored messages: 452 beyond
    dns: str | None = None   # mode "verify": the lab's DNS server, asked directly for SPF, DKIM, DMARC
    dns_port: int = 53


def load(path: str | Path) -> ServerConfig:
    """Read and check a settings file; ConfigError names the file and what is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: there is no such settings file.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it ({getattr(error, 'strerror', None) or error}).") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"{path}: not valid JSON ({error}).") from None
    try:
        return from_dict(data)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def from_dict(data: object) -> ServerConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"the settings must be one JSON object, like {EXAMPLE}.")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ConfigError(f"the setting {missing[0]!r} is missing; for example: {EXAMPLE}")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r}; the settings are {', '.join(_FIELDS)}.")
    name = _text(data, "name")
    hostname = _text(data, "hostname")
    host, port = _listen(data.get("listen"))
    domains = _texts(data, "domains", required=True)
    mode = data.get("mode", "accept")
    if mode not in MODES:
        raise ConfigError(f'"mode" must be one of {", ".join(MODES)} (it is {json.dumps(mode)}).')
    reject = _texts(data, "reject", required=False)
    if any("@" not in address for address in reject):
        raise ConfigError('"reject" must list whole addresses, like ["nobody@remote.test"].')
    seconds = data.get("greylist_seconds", 60)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 86400:
        raise ConfigError('"greylist_seconds" must be a number of seconds from 0 to 86400 '
                          f"(it is {json.dumps(seconds)}).")
    spool = _absolute(data, "spool", required=True)
    ready = _absolute(data, "ready", required=False)
    size_limit = _count(data, "size_limit", spool_module.SIZE_LIMIT, SIZE_LIMIT_RANGE)
    spool_bytes = _count(data, "spool_bytes", spool_module.SPOOL_BYTES, SPOOL_BYTES_RANGE)
    spool_messages = _count(data, "spool_messages", spool_module.SPOOL_MESSAGES, SPOOL_MESSAGES_RANGE)
    dns, dns_port = _dns(data, mode)
    if spool_bytes < size_limit:
        raise ConfigError(f'"spool_bytes" ({spool_bytes}) must be at least "size_limit" ({size_limit}): '
                          "a message that is allowed must fit an empty spool.")
    return ServerConfig(name=name, hostname=hostname, host=host, port=port,
                        domains=tuple(d.lower().rstrip(".") for d in domains), mode=mode,
                        reject=frozenset(a.lower() for a in reject), greylist_seconds=float(seconds),
                        spool=spool, ready=ready, size_limit=size_limit, spool_bytes=spool_bytes,
                        spool_messages=spool_messages, dns=dns, dns_port=dns_port)


def _dns(data: dict, mode: str) -> tuple[str | None, int]:
    value = data.get("dns")
    if value is None:
        if mode == "verify":
            raise ConfigError('mode "verify" needs "dns": the address of the lab\'s DNS server, like "192.0.2.53".')
    else:
        try:
            ipaddress.ip_address(value if isinstance(value, str) else "")
        except ValueError:
            raise ConfigError(f'"dns" must be the IP address of a DNS server (it is {json.dumps(value)}).') from None
    return value, _count(data, "dns_port", 53, (1, 65535))


def _count(data: dict, key: str, default: int, bounds: tuple[int, int]) -> int:
    value = data.get(key, default)
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f'"{key}" must be a whole number from {low} to {high} (it is {json.dumps(value)}).')
    return value


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise ConfigError(f'"{key}" must be a name without spaces (it is {json.dumps(value)}).')
    return value


def _texts(data: dict, key: str, *, required: bool) -> list[str]:
    value = data.get(key, None if required else [])
    if (not isinstance(value, list) or (required and not value)
            or not all(isinstance(v, str) and v.strip() and not any(c.isspace() for c in v) for v in value)):
        need = "a non-empty list" if required else "a list"
        raise ConfigError(f'"{key}" must be {need} of names without spaces (it is {json.dumps(value)}).')
    return value


def _listen(value: object) -> tuple[str, int]:
    wrong = f'"listen" must be [ADDRESS, PORT], like ["198.51.100.10", 25] (it is {json.dumps(value)}).'
    if not isinstance(value, list) or len(value) != 2:
        raise ConfigError(wrong)
    host, port = value
    if not isinstance(host, str) or isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(wrong)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f'"listen" must start with an IP address, not {json.dumps(host)}.') from None
    return host, port


def _absolute(data: dict, key: str, *, required: bool) -> Path | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.startswith("/"):
        raise ConfigError(f'"{key}" must be an absolute path (it is {json.dumps(value)}).')
    return Path(value)
