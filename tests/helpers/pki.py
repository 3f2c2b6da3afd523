"""A throw-away PKI for TLS tests, generated at test time with `cryptography`.

`Pki.create(dir)` makes a trusted CA, a server certificate for 127.0.0.1 and localhost,
client certificates whose identity sits in a URI SAN, a DNS SAN or only the CN, an
untrusted CA with a client certificate of its own, and an expired client certificate,
and writes every PEM file into `dir`. Keys are EC P-256: fast to make, and accepted by
rustls and grpcio alike.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Identities of the client certificates of Pki (what mTLS should take as the principal).
URI_IDENTITY = "spiffe://prism.test/alice"
DNS_IDENTITY = "bob.clients.prism.test"
CN_IDENTITY = "carol"
# The certificate with both SANs: the URI SAN wins.
BOTH_URI = "spiffe://prism.test/dave"
BOTH_DNS = "dave.clients.prism.test"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Prism tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, as PEM bytes and (once written) files."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_file: Path
    key_file: Path

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def write(self) -> Issued:
        self.cert_file.write_bytes(self.cert_pem)
        self.key_file.write_bytes(self.key_pem)
        self.key_file.chmod(0o600)
        return self


class CertificateAuthority:
    """A self-signed CA that issues leaf certificates into `directory`."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        key = _key()
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(f"{name} CA"))
            .issuer_name(_name(f"{name} CA"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
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
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        self.ca = Issued(cert, key, directory / f"{name}-ca.pem", directory / f"{name}-ca.key")
        self.ca.write()

    @property
    def cert_file(self) -> Path:
        return self.ca.cert_file

    @property
    def cert_pem(self) -> bytes:
        return self.ca.cert_pem

    def issue(
        self,
        label: str,
        cn: str,
        *,
        sans: Sequence[x509.GeneralName] | None = None,
        server: bool = False,
        valid_from: timedelta = timedelta(hours=-1),
        valid_for: timedelta = timedelta(days=1),
    ) -> Issued:
        """A leaf certificate (server or client usage) named `<ca>-<label>.pem/.key`."""
        key = _key()
        now = datetime.now(UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.ca.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + valid_from)
            .not_valid_after(now + valid_from + valid_for)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca.key.public_key()),
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        cert = builder.sign(self.ca.key, hashes.SHA256())
        stem = f"{self.name}-{label}"
        return Issued(
            cert, key, self.directory / f"{stem}.pem", self.directory / f"{stem}.key"
        ).write()


@dataclass(frozen=True)
class Pki:
    """Everything a TLS test needs, written to `directory`."""

    directory: Path
    ca: CertificateAuthority
    server: Issued
    client_uri: Issued  # URI SAN URI_IDENTITY (CN differs, so a CN fallback would show)
    client_dns: Issued  # DNS SAN DNS_IDENTITY
    client_cn: Issued  # no SAN at all, CN = CN_IDENTITY
    client_both: Issued  # URI SAN BOTH_URI and DNS SAN BOTH_DNS
    client_expired: Issued  # URI SAN of alice, expired an hour ago
    untrusted_ca: CertificateAuthority
    client_untrusted: Issued  # same URI SAN as client_uri, from the untrusted CA

    @classmethod
    def create(cls, directory: Path) -> Pki:
        directory.mkdir(parents=True, exist_ok=True)
        ca = CertificateAuthority(directory, "trusted")
        server = ca.issue(
            "server",
            "localhost",
            server=True,
            sans=[
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ],
        )
        uri = [x509.UniformResourceIdentifier(URI_IDENTITY)]
        client_uri = ca.issue("client-uri", "not-the-principal-uri", sans=uri)
        client_dns = ca.issue(
            "client-dns", "not-the-principal-dns", sans=[x509.DNSName(DNS_IDENTITY)]
        )
        client_cn = ca.issue("client-cn", CN_IDENTITY)
        client_both = ca.issue(
            "client-both",
            "not-the-principal-both",
            sans=[x509.DNSName(BOTH_DNS), x509.UniformResourceIdentifier(BOTH_URI)],
        )
        client_expired = ca.issue(
            "client-expired",
            "expired",
            sans=uri,
            valid_from=timedelta(days=-2),
            valid_for=timedelta(days=1),
        )
        untrusted = CertificateAuthority(directory, "untrusted")
        client_untrusted = untrusted.issue("client-uri", "not-the-principal-uri", sans=uri)
        return cls(
            directory,
            ca,
            server,
            client_uri,
            client_dns,
            client_cn,
            client_both,
            client_expired,
            untrusted,
            client_untrusted,
        )

    def server_tls(self, *, client_ca: bool = False) -> dict[str, str]:
        """The `server.auth.tls` block for this PKI's server certificate."""
        block = {"cert_file": str(self.server.cert_file), "key_file": str(self.server.key_file)}
        if client_ca:
            block["client_ca_file"] = str(self.ca.cert_file)
        return block
