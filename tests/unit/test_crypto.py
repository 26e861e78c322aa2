"""crypto: keys, CSRs, reading certificates, matching a certificate to its key and names."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certplan.model import crypto
from certplan.model.errors import CertplanError

NOW = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test CA Org")])


def issue(key: crypto.PrivateKey, domains: list[str], *, serial: int = 0xABCDEF01) -> bytes:
    """A CA-signed leaf plus the CA certificate, as a full chain PEM."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Test Root"))
          .issuer_name(_name("Test Root")).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(3650))
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(_name(domains[0]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(serial)
            .not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return leaf.public_bytes(pem) + ca.public_bytes(pem)


@pytest.mark.parametrize("key_type,cls,size", [
    ("ec-256", ec.EllipticCurvePrivateKey, 256), ("ec-384", ec.EllipticCurvePrivateKey, 384),
    ("rsa-2048", rsa.RSAPrivateKey, 2048)])
def test_generate_key_types(key_type: str, cls: type, size: int) -> None:
    key = crypto.generate_key(key_type)
    assert isinstance(key, cls)
    assert crypto.describe_key(key) == key_type
    pem = crypto.key_to_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert crypto.describe_key(crypto.load_key(pem)) == key_type


def test_generate_key_unknown_type() -> None:
    with pytest.raises(CertplanError, match="ec-256"):
        crypto.generate_key("dsa-1024")


def test_load_key_garbage_names_source_not_content() -> None:
    with pytest.raises(CertplanError) as info:
        crypto.load_key(b"-----BEGIN PRIVATE KEY-----\nSECRETSTUFF\n", source="/x/key.pem")
    assert "/x/key.pem" in str(info.value)
    assert "SECRETSTUFF" not in str(info.value)


def test_csr_names_and_cn() -> None:
    key = crypto.generate_key("ec-256")
    csr = x509.load_pem_x509_csr(crypto.make_csr(key, ["a.example.com", "b.example.com"]))
    assert csr.is_signature_valid
    sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["a.example.com", "b.example.com"]
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "a.example.com"


def test_csr_long_first_name_has_no_cn() -> None:
    long_name = "a" * 60 + ".example.com"
    key = crypto.generate_key("ec-256")
    csr = x509.load_pem_x509_csr(crypto.make_csr(key, [long_name, "*.example.com"]))
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME) == []
    sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [long_name, "*.example.com"]


def test_cert_info_fields() -> None:
    key = crypto.generate_key("rsa-2048")
    chain = issue(key, ["www.example.com", "example.com"], serial=0x0ABC)
    info = crypto.cert_info(chain)
    assert info.serial == "abc"
    assert info.not_before == NOW and info.not_before.tzinfo is not None
    assert info.not_after == NOW + datetime.timedelta(days=90)
    assert info.lifetime == datetime.timedelta(days=90)
    assert info.issuer == "O=Test CA Org,CN=Test Root"
    assert info.issuer_cn == "Test Root"
    assert info.subject_cn == "www.example.com"
    assert info.sans == ["www.example.com", "example.com"]
    leaf_der = x509.load_pem_x509_certificate(chain).public_bytes(serialization.Encoding.DER)
    assert info.fingerprint == crypto.sha256_hex(leaf_der) and len(info.fingerprint) == 64
    assert info.key_type == "rsa-2048"
    assert info.aki is not None and len(info.aki) == 40


def test_split_chain() -> None:
    chain = issue(crypto.generate_key("ec-256"), ["a.example.com"])
    leaf, rest = crypto.split_chain(chain)
    assert leaf.count(b"BEGIN CERTIFICATE") == 1 and rest.count(b"BEGIN CERTIFICATE") == 1
    assert leaf + rest == chain
    assert crypto.split_chain(leaf) == (leaf, b"")
    with pytest.raises(CertplanError):
        crypto.split_chain(b"nothing here")


def test_csr_names() -> None:
    key = crypto.generate_key("ec-256")
    names = ["www.example.com", "example.com", "*.example.com"]
    assert crypto.csr_names(crypto.make_csr(key, names)) == names
    bare = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
            .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    assert crypto.csr_names(bare) == []
    with pytest.raises(CertplanError, match="not a readable PEM certificate signing request"):
        crypto.csr_names(b"junk")


def test_split_pem_certs_keeps_order_and_ignores_text_between() -> None:
    leaf, rest = crypto.split_chain(issue(crypto.generate_key("ec-256"), ["a.example.com"]))
    assert crypto.split_pem_certs(b"junk\n" + leaf + b"\n\n" + rest + b"trailer") == [leaf, rest]
    crlf = leaf.replace(b"\n", b"\r\n")
    assert crypto.split_pem_certs(crlf + rest) == [crlf.removesuffix(b"\r\n") + b"\n", rest]
    assert crypto.split_pem_certs(b"no certificate") == []


def test_verify_issued_accepts_matching() -> None:
    key = crypto.generate_key("ec-256")
    chain = issue(key, ["a.example.com", "*.b.example.com"])
    info = crypto.verify_issued(chain, crypto.key_to_pem(key), ["a.example.com", "x.b.example.com"])
    assert info.sans == ["a.example.com", "*.b.example.com"]


def test_verify_issued_wrong_key() -> None:
    chain = issue(crypto.generate_key("ec-256"), ["a.example.com"])
    with pytest.raises(CertplanError, match="does not match its private key"):
        crypto.verify_issued(chain, crypto.generate_key("ec-256"), ["a.example.com"])


def test_verify_issued_missing_domain() -> None:
    key = crypto.generate_key("ec-256")
    chain = issue(key, ["a.example.com"])
    with pytest.raises(CertplanError, match="does not cover c.example.com"):
        crypto.verify_issued(chain, key, ["a.example.com", "c.example.com"])


def test_covers() -> None:
    assert crypto.covers(["*.example.com"], "www.example.com")
    assert not crypto.covers(["*.example.com"], "a.b.example.com")
    assert not crypto.covers(["*.example.com"], "example.com")
    assert crypto.covers(["Example.COM"], "example.com")
