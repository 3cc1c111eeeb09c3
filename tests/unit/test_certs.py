"""grader.certs on certificates made here: a server certificate signed by a CA, judged the way a
mail client judges it, and a file whose certificates are in the wrong order."""
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from grader import certs


def _make(name: str, key, issuer_name: str, issuer_key, *, san: str | None = None) -> bytes:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30)))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


CA_KEY, SERVER_KEY = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
CA = _make("Lab CA", CA_KEY, "Lab CA", CA_KEY)
SERVER = _make("mail.example.test", SERVER_KEY, "Lab CA", CA_KEY, san="mail.example.test")
SERVER_KEY_PEM = SERVER_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())


def test_a_server_certificate_is_judged_as_a_client_would():
    server, ca = certs.load_certificate(SERVER), certs.load_certificate(CA)
    assert server.valid_for("mail.example.test") and not server.valid_for("mail")
    assert server.issued_by(ca) and not server.self_signed and ca.self_signed
    assert certs.key_matches(server, SERVER_KEY_PEM) and not certs.key_matches(ca, SERVER_KEY_PEM)


def test_a_chain_keeps_file_order():
    right, wrong = certs.load_chain(SERVER + CA), certs.load_chain(CA + SERVER)
    assert [c.common_name for c in right] == ["mail.example.test", "Lab CA"]
    assert [c.common_name for c in wrong] == ["Lab CA", "mail.example.test"]
    assert certs.load_certificate(CA + SERVER).common_name == "Lab CA"  # what Postfix would present
    assert certs.load_chain(b"no certificate here") == []
