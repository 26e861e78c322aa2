"""Private keys, CSRs and reading certificates (cryptography only; no I/O, no clock).

Conventions:
- PEM in and out as bytes; keys as PKCS#8 PEM without encryption (the keystore
  protects them with file modes).
- Fingerprints and digests are plain lower-case hex, no colons (`sha256_hex`),
  so that they compare and diff as simple strings.
- Serial numbers are lower-case hex without leading zeros or colons.
- Error messages never contain key material.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certplan.model.errors import CertplanError

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ec-256": ec.SECP256R1,
    "ec-384": ec.SECP384R1,
}
_RSA_BITS: dict[str, int] = {"rsa-2048": 2048, "rsa-3072": 3072, "rsa-4096": 4096}
_PEM_END = b"-----END CERTIFICATE-----"


def sha256_hex(data: bytes) -> str:
    """SHA-256 of `data` as lower-case hex (64 characters, no colons)."""
    return hashlib.sha256(data).hexdigest()


def generate_key(key_type: str) -> PrivateKey:
    """A new private key: "ec-256", "ec-384", "rsa-2048", "rsa-3072" or "rsa-4096"."""
    if key_type in _CURVES:
        return ec.generate_private_key(_CURVES[key_type]())
    if key_type in _RSA_BITS:
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[key_type])
    known = ", ".join([*_CURVES, *_RSA_BITS])
    raise CertplanError(f"unknown key type {key_type!r} (known: {known})")


def key_to_pem(key: PrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_key(pem: bytes, *, source: str = "private key") -> PrivateKey:
    """Parse a PEM private key (EC or RSA). `source` names it in errors (never the content)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise CertplanError(f"{source}: not a readable unencrypted PEM private key") from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise CertplanError(f"{source}: only EC and RSA keys are supported")
    return key


def describe_key(key: PrivateKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey | object) -> str:
    """ "ec-256", "ec-384", "rsa-2048", ... for a private or public key; "unknown" otherwise."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return f"ec-{key.curve.key_size}"
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"rsa-{key.key_size}"
    return "unknown"


def make_csr(key: PrivateKey, domains: list[str]) -> bytes:
    """A PEM CSR for `domains`: every name as a SAN, the first as CN when it fits (<= 64)."""
    if not domains:
        raise CertplanError("a CSR needs at least one domain")
    names = []
    if len(domains[0]) <= 64:
        names.append(x509.NameAttribute(NameOID.COMMON_NAME, domains[0]))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(names))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def _load_csr(csr_pem: bytes) -> x509.CertificateSigningRequest:
    try:
        return x509.load_pem_x509_csr(csr_pem)
    except ValueError:
        raise CertplanError("not a readable PEM certificate signing request") from None


def csr_names(csr_pem: bytes) -> list[str]:
    """The DNS names of a PEM CSR's subjectAltName, in order; [] when it has none."""
    csr = _load_csr(csr_pem)
    try:
        ext = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [str(n) for n in ext.value.get_values_for_type(x509.DNSName)]


def csr_key_type(csr_pem: bytes) -> str:
    """ "ec-256", "rsa-2048", ... of the CSR's public key (the key the order is for)."""
    return describe_key(_load_csr(csr_pem).public_key())


def csr_matches_key(csr_pem: bytes, key: PrivateKey | bytes) -> bool:
    """True when the CSR was made for `key` (the same public key)."""
    if isinstance(key, bytes):
        key = load_key(key)
    return _spki(_load_csr(csr_pem)) == _spki(key)


def split_pem_certs(pem: bytes) -> list[bytes]:
    """Each certificate of a PEM bundle, in order, each ending with a newline."""
    out: list[bytes] = []
    rest = pem
    while True:
        start = rest.find(b"-----BEGIN CERTIFICATE-----")
        end = rest.find(_PEM_END, start)
        if start < 0 or end < 0:
            return out
        stop = end + len(_PEM_END)
        out.append(rest[start:stop] + b"\n")
        rest = rest[stop:]


def split_chain(fullchain_pem: bytes) -> tuple[bytes, bytes]:
    """(leaf PEM, chain PEM). The chain holds every certificate after the leaf (may be b"")."""
    certs = split_pem_certs(fullchain_pem)
    if not certs:
        raise CertplanError("no PEM certificate found in the certificate chain")
    return certs[0], b"".join(certs[1:])


def load_leaf(pem: bytes) -> x509.Certificate:
    """The first certificate of a PEM (a leaf alone or a full chain)."""
    leaf, _ = split_chain(pem)
    try:
        return x509.load_pem_x509_certificate(leaf)
    except ValueError:
        raise CertplanError("the leaf certificate is not valid PEM") from None


@dataclass(frozen=True)
class CertInfo:
    """Public facts about a leaf certificate."""

    serial: str                       # lower-case hex
    not_before: datetime.datetime     # aware, UTC
    not_after: datetime.datetime      # aware, UTC
    issuer: str                       # RFC 4514 string
    issuer_cn: str | None
    subject_cn: str | None
    sans: list[str]                   # DNS names, in certificate order
    fingerprint: str                  # SHA-256 of the DER, lower-case hex, no colons
    key_type: str                     # "ec-256", "rsa-2048", ...
    aki: str | None                   # authority key identifier, lower-case hex

    @property
    def lifetime(self) -> datetime.timedelta:
        return self.not_after - self.not_before


def _cn(name: x509.Name) -> str | None:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [str(n) for n in ext.value.get_values_for_type(x509.DNSName)]


def _aki(cert: x509.Certificate) -> str | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    keyid = ext.value.key_identifier
    return keyid.hex() if keyid else None


def cert_info_from(cert: x509.Certificate) -> CertInfo:
    return CertInfo(
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        issuer=cert.issuer.rfc4514_string(),
        issuer_cn=_cn(cert.issuer),
        subject_cn=_cn(cert.subject),
        sans=_sans(cert),
        fingerprint=sha256_hex(cert.public_bytes(serialization.Encoding.DER)),
        key_type=describe_key(cert.public_key()),
        aki=_aki(cert),
    )


def cert_info(fullchain_pem: bytes) -> CertInfo:
    """CertInfo of the leaf (first certificate) of a PEM chain."""
    return cert_info_from(load_leaf(fullchain_pem))


def _spki(key: object) -> bytes:
    public = getattr(key, "public_key")()  # noqa: B009 - works for keys and certificates
    return bytes(public.public_bytes(serialization.Encoding.DER,
                                     serialization.PublicFormat.SubjectPublicKeyInfo))


def covers(sans: list[str], domain: str) -> bool:
    """True when `domain` is one of `sans`, or matched by a wildcard SAN one label up."""
    domain = domain.lower()
    lowered = {s.lower() for s in sans}
    if domain in lowered:
        return True
    if domain.startswith("*."):
        return False
    _, _, parent = domain.partition(".")
    return bool(parent) and f"*.{parent}" in lowered


def verify_issued(leaf_pem: bytes, key: PrivateKey | bytes, domains: list[str]) -> CertInfo:
    """Check that the leaf's public key is `key`'s and that it covers every domain.

    `leaf_pem` may be a full chain (its first certificate is used). Returns the
    leaf's CertInfo; raises CertplanError naming what does not match."""
    if isinstance(key, bytes):
        key = load_key(key)
    cert = load_leaf(leaf_pem)
    info = cert_info_from(cert)
    if _spki(cert) != _spki(key):
        raise CertplanError(
            f"certificate {info.serial} does not match its private key "
            f"(certificate key {info.key_type}, private key {describe_key(key)})")
    missing = [d for d in domains if not covers(info.sans, d)]
    if missing:
        raise CertplanError(
            f"certificate {info.serial} does not cover {', '.join(missing)} "
            f"(it names {', '.join(info.sans) or 'no DNS names'})")
    return info
