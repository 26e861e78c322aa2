"""Pure certificate helpers for the CA layer: ARI certificate IDs, chain choice.

No network and no acme library here, so the planner may use them too.
"""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.x509.oid import NameOID

from certplan.model.crypto import split_pem_certs
from certplan.model.errors import AcmeError


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def ari_cert_id(cert_pem: str | bytes) -> str:
    """RFC 9773 certificate ID: base64url(AKI keyIdentifier) "." base64url(serial DER).

    The serial is the DER INTEGER content: big-endian two's complement, so a
    serial whose top bit is set gets a leading zero byte.
    """
    data = cert_pem.encode("ascii") if isinstance(cert_pem, str) else cert_pem
    cert = x509.load_pem_x509_certificate(data)
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound as error:
        raise AcmeError("certificate has no Authority Key Identifier: "
                        "cannot ask the CA for renewal information") from error
    key_id = aki.value.key_identifier
    if not key_id:
        raise AcmeError("certificate's Authority Key Identifier has no keyIdentifier")
    serial = cert.serial_number
    serial_der = serial.to_bytes(serial.bit_length() // 8 + 1, "big", signed=True)
    return f"{_b64url(key_id)}.{_b64url(serial_der)}"


def _issuer_cn(cert_pem: bytes) -> str | None:
    cert = x509.load_pem_x509_certificate(cert_pem)
    names = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def choose_chain(fullchains: list[str], preferred_issuer_cn: str | None) -> str:
    """Pick the chain whose topmost certificate was issued by `preferred_issuer_cn`.

    `fullchains` is the CA's default chain first, then alternates. With no
    preference, or no chain matching it, the default chain is returned.
    """
    if not fullchains:
        raise AcmeError("the CA returned no certificate chain")
    if preferred_issuer_cn:
        for chain in fullchains:
            certs = split_pem_certs(chain.encode("ascii"))
            if certs and _issuer_cn(certs[-1]) == preferred_issuer_cn:
                return chain
    return fullchains[0]
