"""A private JWK (certbot's private_key.json) as a PEM key, for the keystore."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certplan.model.crypto import key_to_pem
from certplan.model.errors import CertplanError

_CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1}


def _int(data: dict[str, Any], name: str) -> int:
    text = str(data[name])
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def jwk_to_pem(data: dict[str, Any], source: str) -> bytes:
    """PKCS#8 PEM of an RSA or EC (P-256, P-384) private JWK; CertplanError naming
    `source` (never the key) otherwise."""
    try:
        if data.get("kty") == "RSA":
            public = rsa.RSAPublicNumbers(_int(data, "e"), _int(data, "n"))
            numbers = rsa.RSAPrivateNumbers(
                _int(data, "p"), _int(data, "q"), _int(data, "d"), _int(data, "dp"),
                _int(data, "dq"), _int(data, "qi"), public)
            return key_to_pem(numbers.private_key())
        if data.get("kty") == "EC" and data.get("crv") in _CURVES:
            key = ec.derive_private_key(_int(data, "d"), _CURVES[str(data["crv"])]())
            return key_to_pem(key)
    except (KeyError, ValueError, TypeError):
        pass
    raise CertplanError(f"{source}: not an RSA or EC (P-256, P-384) private JWK")
