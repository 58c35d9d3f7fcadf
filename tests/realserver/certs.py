"""Certificates for one control plane, generated at start-up with `cryptography`.

ECDSA P-256 everywhere: a key takes well under a millisecond, RSA-2048 about 100 ms, and
kube-apiserver accepts ECDSA for serving, client and service-account keys alike. Nothing here
starts a process or talks to a server.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=30)


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Certificates:
    ca: KeyPair
    serving: KeyPair
    admin: KeyPair  # the tests' identity
    controller_manager: KeyPair  # kube-controller-manager's own identity, so its requests stand apart
    sa_key: Path  # service-account signing key
    sa_pub: Path


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def _issue(
    folder: Path,
    stem: str,
    *,
    subject: x509.Name,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    server: bool,
) -> KeyPair:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _builder(subject, ca_cert.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if server:
        names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    (folder / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return KeyPair(folder / f"{stem}.crt", _write_key(key, folder / f"{stem}.key"))


def generate(folder: Path, *, admin_user: str = "admin") -> Certificates:
    """Write a CA, the apiserver's serving pair, two client pairs and the SA keys into `folder`."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("kubectl-mirror-test-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    ca = (ca_cert, ca_key)
    sa_key = ec.generate_private_key(ec.SECP256R1())
    sa_pub = folder / "sa.pub"
    sa_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return Certificates(
        ca=KeyPair(folder / "ca.crt", _write_key(ca_key, folder / "ca.key")),
        serving=_issue(folder, "serving", subject=_name("kube-apiserver"), ca=ca, server=True),
        admin=_issue(folder, "admin", subject=_name(admin_user, "system:masters"), ca=ca, server=False),
        controller_manager=_issue(
            folder,
            "kube-controller-manager",
            subject=_name("kube-controller-manager", "system:masters"),
            ca=ca,
            server=False,
        ),
        sa_key=_write_key(sa_key, folder / "sa.key"),
        sa_pub=sa_pub,
    )
