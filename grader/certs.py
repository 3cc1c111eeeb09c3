"""Reading X.509 certificates and keys as a mail client would judge them: the names a certificate
is for, who signed it, its validity, whether a private key belongs to it. Pure functions of bytes
(PEM or DER), so they are tested without a machine."""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import NameOID

from .errors import NotACertificate
from .i18n import _




@dataclass(frozen=True)
class Certificate:
    raw: x509.Certificate
    subject: str           # e.g. "CN=mail.example.test"
    issuer: str
    common_name: str
    dns_names: tuple[str, ...]   # subjectAltName DNS entries
    not_before: datetime.datetime
    not_after: datetime.datetime

    @property
    def self_signed(self) -> bool:
        return self.raw.subject == self.raw.issuer

    def names(self) -> str:
        return _("CN={cn}, subjectAltName DNS: {alt}", cn=self.common_name or _("(none)"),
                 alt=", ".join(self.dns_names) or _("none"))

    def valid_for(self, hostname: str) -> bool:
        """What a modern client checks: the name must be among the subjectAltName DNS entries."""
        wanted = hostname.lower()
        return any(_matches(name.lower(), wanted) for name in self.dns_names)

    def expired(self, now: datetime.datetime | None = None) -> bool:
        now = now or _now()
        return not (self.not_before <= now <= self.not_after)

    def issued_by(self, ca: "Certificate") -> bool:
        try:
            self.raw.verify_directly_issued_by(ca.raw)
        except (ValueError, TypeError, Exception):  # noqa: BLE001 - any verification failure is "no"
            return False
        return True

    def public_key_bytes(self) -> bytes:
        return self.raw.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def fingerprint(self) -> str:
        from cryptography.hazmat.primitives import hashes

        return self.raw.fingerprint(hashes.SHA256()).hex()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _matches(pattern: str, hostname: str) -> bool:
    if pattern.startswith("*."):
        return "." in hostname and hostname.split(".", 1)[1] == pattern[2:]
    return pattern == hostname


def load_certificate(data: bytes) -> Certificate:
    """The first certificate in PEM (a file may hold a key too) or DER bytes."""
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            start = data.index(b"-----BEGIN CERTIFICATE-----")
            cert = x509.load_pem_x509_certificate(data[start:])
        else:
            cert = x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise NotACertificate(str(exc)) from None
    return _described(cert)


def load_chain(data: bytes, limit: int = 10) -> list[Certificate]:
    """Every PEM certificate in the bytes, in file order (at most `limit`): the first is the one a
    server presents as its own, the rest its chain. Unreadable blocks are left out."""
    found = []
    for block in data.split(b"-----BEGIN CERTIFICATE-----")[1:limit + 1]:
        try:
            found.append(_described(x509.load_pem_x509_certificate(b"-----BEGIN CERTIFICATE-----" + block)))
        except ValueError:
            continue
    return found


def _described(cert: x509.Certificate) -> Certificate:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = tuple(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        dns = ()
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return Certificate(raw=cert, subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                       common_name=str(cns[0].value) if cns else "", dns_names=dns,
                       not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc)


def key_matches(certificate: Certificate, key_pem: bytes) -> bool:
    """Does this PEM private key (unencrypted) belong to the certificate? Raises NotACertificate
    when the bytes hold no readable key."""
    start = key_pem.find(b"-----BEGIN")
    blocks = key_pem[start:] if start >= 0 else key_pem
    try:
        key = load_pem_private_key(_first_key_block(blocks), password=None)
    except (ValueError, TypeError) as exc:
        raise NotACertificate(str(exc)) from None
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return public == certificate.public_key_bytes()


def _first_key_block(data: bytes) -> bytes:
    """The first PEM block that is a private key (cert and key may share one file)."""
    marker = b"-----BEGIN "
    position = 0
    while (start := data.find(marker, position)) >= 0:
        end_marker = data.find(b"-----END ", start)
        end = data.find(b"-----", end_marker + 9) + 5 if end_marker >= 0 else len(data)
        block = data[start:end]
        if b"PRIVATE KEY-----" in block.split(b"\n", 1)[0]:
            return block
        position = max(end, start + len(marker))  # always forward: a torn block must not loop for ever
    raise NotACertificate(_("no private key found"))
