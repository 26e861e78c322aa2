"""ari_cert_id and choose_chain on certificates built here with known fields."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certplan.ca.certs import ari_cert_id, choose_chain
from certplan.model.errors import AcmeError

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
# RFC 9773 section 4.1 example: AKI keyIdentifier and serial 0x0087654321.
RFC_AKI = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def build_cert(subject: str, issuer: str, *, serial: int = 1, aki: bytes | None = None,
               ca: bool = False) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(serial)
               .not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=90))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if aki is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(aki, None, None), critical=False)
    cert = builder.sign(key, hashes.SHA256())  # signature is not what these tests look at
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def test_ari_cert_id_matches_the_rfc_9773_example() -> None:
    pem = build_cert("leaf", "Example Intermediate", serial=0x87654321, aki=RFC_AKI)
    assert ari_cert_id(pem) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
    assert ari_cert_id(pem.encode("ascii")) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


@pytest.mark.parametrize(("serial", "encoded"), [
    (0x12, "Eg"),            # one byte, top bit clear
    (0x80, "AIA"),           # top bit set: DER adds a leading zero byte
    (0x7FFF, "f_8"),         # two bytes, base64url alphabet (_ not /)
    (0x01_0000_0000, "AQAAAAA"),
])
def test_ari_cert_id_serial_is_der_integer_content(serial: int, encoded: str) -> None:
    pem = build_cert("leaf", "I", serial=serial, aki=b"\x01\x02\x03")
    assert ari_cert_id(pem) == f"AQID.{encoded}"


def test_ari_cert_id_without_aki_is_a_clear_error() -> None:
    with pytest.raises(AcmeError, match="no Authority Key Identifier"):
        ari_cert_id(build_cert("leaf", "I"))


def _chain(root_cn: str) -> str:
    intermediate = f"Intermediate under {root_cn}"
    return build_cert("leaf.example.com", intermediate) + build_cert(
        intermediate, root_cn, ca=True)


def test_choose_chain_matches_issuer_of_topmost_certificate() -> None:
    default, alternate = _chain("Root X1"), _chain("Root X2")
    assert choose_chain([default, alternate], "Root X2") == alternate
    assert choose_chain([default, alternate], "Root X1") == default
    # The leaf's issuer is not what counts, only the topmost certificate's.
    assert choose_chain([default, alternate], "Intermediate under Root X2") == default


def test_choose_chain_defaults_to_first() -> None:
    default, alternate = _chain("Root X1"), _chain("Root X2")
    assert choose_chain([default, alternate], None) == default
    assert choose_chain([default, alternate], "Unknown Root") == default
    with pytest.raises(AcmeError, match="no certificate chain"):
        choose_chain([], "Root X1")
