"""Account key algorithms and how CA problems read as AcmeError messages."""

from __future__ import annotations

import josepy as jose
import pytest
import requests
from acme import messages
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from certplan.ca.network import jwk_and_alg, problem_text, translated_errors
from certplan.model.errors import AcmeError

URL = "https://ca.example/dir"


@pytest.mark.parametrize(("key", "alg"), [
    (ec.generate_private_key(ec.SECP256R1()), jose.ES256),
    (ec.generate_private_key(ec.SECP384R1()), jose.ES384),
    (rsa.generate_private_key(65537, 2048), jose.RS256),
])
def test_jwk_and_alg_per_key_type(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
                                  alg: jose.JWASignature) -> None:
    jwk, chosen = jwk_and_alg(key)
    assert chosen == alg
    assert jwk.public_key().key.public_numbers() == key.public_key().public_numbers()


def test_unsupported_keys_are_refused() -> None:
    with pytest.raises(AcmeError, match="unsupported account key curve secp521r1"):
        jwk_and_alg(ec.generate_private_key(ec.SECP521R1()))
    with pytest.raises(AcmeError, match="unsupported account key type"):
        jwk_and_alg(ed25519.Ed25519PrivateKey.generate())  # type: ignore[arg-type]


def test_problem_text_with_subproblems() -> None:
    error = messages.Error.from_json({
        "type": "urn:ietf:params:acme:error:rejectedIdentifier",
        "detail": "some names were refused",
        "subproblems": [{"type": "urn:ietf:params:acme:error:caa", "detail": "CAA forbids",
                         "identifier": {"type": "dns", "value": "b.example.com"}}]})
    assert problem_text(error) == ("rejectedIdentifier: some names were refused; "
                                   "b.example.com: CAA forbids")


def test_translated_errors_name_the_directory_and_action() -> None:
    with pytest.raises(AcmeError, match=rf"^CA {URL} refused the new order: malformed: bad$"):
        with translated_errors(URL, "the new order"):
            raise messages.Error.with_code("malformed", detail="bad")
    with pytest.raises(AcmeError, match=rf"^CA unreachable: {URL}: timed out$"):
        with translated_errors(URL, "x"):
            raise requests.exceptions.ConnectTimeout("pool: timed out")
    with pytest.raises(AcmeError, match=rf"^CA unreachable: {URL}: connection refused$"):
        with translated_errors(URL, "x"):
            raise requests.exceptions.ConnectionError("[Errno 111] Connection refused")
    original = AcmeError("already clear")
    with pytest.raises(AcmeError) as caught:
        with translated_errors(URL, "x"):
            raise original
    assert caught.value is original
