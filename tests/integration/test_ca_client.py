"""AcmeClient against a real Pebble (real http-01 validation, default nonce faults).

The http-01 responder here is the test's own tiny HTTP server on the port
Pebble's validator dials; it is not product code.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

from certplan.ca import AcmeClient, Order, choose_chain
from certplan.model.crypto import split_pem_certs
from certplan.model.errors import AcmeError, ChallengeError
from tests.servers.pebble import PebbleServer, pebble, pebble_factory  # noqa: F401
from tests.servers.ports import free_port

pytestmark = pytest.mark.integration

EMAIL = "ops@example.com"


class Responder:
    """Serves /.well-known/acme-challenge/TOKEN from a dict, on 127.0.0.1:port."""

    def __init__(self, port: int) -> None:
        self.tokens: dict[str, str] = {}
        self.hits = 0
        tokens, outer = self.tokens, self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                outer.hits += 1
                body = tokens.get(self.path.rsplit("/", 1)[-1])
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                if body is not None:
                    self.wfile.write(body.encode("ascii"))

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def responder(pebble: PebbleServer) -> Iterator[Responder]:  # noqa: F811
    r = Responder(pebble.http_port)
    yield r
    r.close()


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_csr(names: list[str]) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = new_key()
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                          critical=False)
           .sign(key, hashes.SHA256()))
    return key, csr.public_bytes(serialization.Encoding.PEM)


def connect(server: PebbleServer, key: ec.EllipticCurvePrivateKey) -> AcmeClient:
    client = AcmeClient.connect(server.directory_url, key, ca_bundle=server.ca_bundle,
                                timeout=10)
    client.ensure_account(EMAIL, agree_tos=True)
    return client


def solve_and_finalize(client: AcmeClient, order: Order, responder: Responder) -> list[str]:
    pending = client.pending_challenges(order, lambda name, wildcard: "http-01")
    for item in pending:
        responder.tokens[item.challenge.token] = item.challenge.key_authorization
    client.answer(pending)
    client.wait_authorizations(order, time.monotonic() + 15)
    return client.finalize(order, time.monotonic() + 15)


def issue(client: AcmeClient, names: list[str], responder: Responder) -> list[str]:
    _, csr_pem = make_csr(names)
    return solve_and_finalize(client, client.new_order(csr_pem), responder)


def verify_chain(fullchain: str, root_pem: str, name: str) -> x509.Certificate:
    certs = [x509.load_pem_x509_certificate(c) for c in split_pem_certs(fullchain.encode())]
    root = x509.load_pem_x509_certificate(root_pem.encode())
    verifier = (verification.PolicyBuilder()
                .store(verification.Store([root]))
                .build_server_verifier(x509.DNSName(name)))
    verifier.verify(certs[0], certs[1:])  # raises VerificationError when it does not chain
    return certs[0]


def san_names(cert: x509.Certificate) -> set[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName))


def test_http01_issuance_for_two_names_chains_to_pebble_root(
        pebble: PebbleServer, responder: Responder) -> None:  # noqa: F811
    client = connect(pebble, new_key())
    key, csr_pem = make_csr(["one.example.com", "two.example.com"])
    order = client.new_order(csr_pem)
    assert sorted(order.identifiers) == ["one.example.com", "two.example.com"]
    chains = solve_and_finalize(client, order, responder)
    assert order.status == "valid"
    leaf = verify_chain(chains[0], pebble.root_pem(0), "two.example.com")
    assert san_names(leaf) == {"one.example.com", "two.example.com"}
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert leaf.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)
    assert responder.hits >= 2  # Pebble really fetched the tokens


def test_account_is_found_again_by_key(pebble: PebbleServer) -> None:  # noqa: F811
    key = new_key()
    first = connect(pebble, key).account_url
    again = AcmeClient.connect(pebble.directory_url, key, ca_bundle=pebble.ca_bundle)
    assert again.ensure_account(None, agree_tos=False) == first  # lookup needs no ToS
    other = connect(pebble, new_key()).account_url
    assert first and other and other != first


def test_order_resumed_from_its_url_in_a_new_client(
        pebble: PebbleServer, responder: Responder) -> None:  # noqa: F811
    key = new_key()
    _, csr_pem = make_csr(["resume.example.com"])
    order_url = connect(pebble, key).new_order(csr_pem).url  # then "crash"

    resumed = connect(pebble, key).fetch_order(order_url, csr_pem)
    assert resumed.url == order_url and resumed.identifiers == ["resume.example.com"]
    chains = solve_and_finalize(connect(pebble, key), resumed, responder)
    leaf = verify_chain(chains[0], pebble.root_pem(0), "resume.example.com")

    # A crash after issuance: the same order hands back the same certificate.
    done = connect(pebble, key).fetch_order(order_url, csr_pem)
    assert done.status == "valid"
    again = connect(pebble, key).finalize(done, time.monotonic() + 5)
    assert x509.load_pem_x509_certificate(again[0].encode()).serial_number == leaf.serial_number


def test_wrong_key_authorization_gives_challenge_error_naming_the_domain(
        pebble: PebbleServer, responder: Responder) -> None:  # noqa: F811
    client = connect(pebble, new_key())
    _, csr_pem = make_csr(["wrong.example.com"])
    order = client.new_order(csr_pem)
    pending = client.pending_challenges(order, lambda name, wildcard: "http-01")
    for item in pending:
        responder.tokens[item.challenge.token] = item.challenge.token + ".not-the-thumbprint"
    client.answer(pending)
    with pytest.raises(ChallengeError) as caught:
        client.wait_authorizations(order, time.monotonic() + 15)
    assert list(caught.value.failures) == ["wrong.example.com"]
    assert "http-01: unauthorized" in caught.value.failures["wrong.example.com"]
    assert "wrong.example.com: http-01: unauthorized" in str(caught.value)


def test_missing_challenge_type_is_reported(pebble: PebbleServer) -> None:  # noqa: F811
    client = connect(pebble, new_key())
    order = client.new_order(make_csr(["nochall.example.com"])[1])
    with pytest.raises(AcmeError, match=r"offers no bogus-01 challenge for "
                                        r"nochall\.example\.com \(offered: .*http-01"):
        client.pending_challenges(order, lambda name, wildcard: "bogus-01")


def test_revoke_then_revoke_again_is_refused(
        pebble: PebbleServer, responder: Responder) -> None:  # noqa: F811
    client = connect(pebble, new_key())
    chains = issue(client, ["revoke.example.com"], responder)
    client.revoke(chains[0], reason=4)
    with pytest.raises(AcmeError, match=r"refused the revocation: alreadyRevoked"):
        client.revoke(chains[0])


def test_terms_of_service_must_be_agreed(pebble: PebbleServer) -> None:  # noqa: F811
    client = AcmeClient.connect(pebble.directory_url, new_key(), ca_bundle=pebble.ca_bundle)
    assert client.meta.terms_of_service
    with pytest.raises(AcmeError, match="terms of service .*agree_tos = true"):
        client.ensure_account(EMAIL, agree_tos=False)


def test_ca_unreachable_names_the_directory() -> None:
    url = f"https://127.0.0.1:{free_port()}/dir"
    with pytest.raises(AcmeError) as caught:
        AcmeClient.connect(url, new_key(), timeout=5)
    assert str(caught.value) == f"CA unreachable: {url}: connection refused"


def test_untrusted_ca_certificate_is_a_clear_tls_error(pebble: PebbleServer) -> None:  # noqa: F811
    with pytest.raises(AcmeError, match=r"CA unreachable: https://127\.0\.0\.1:\d+/dir: "
                                        r"TLS error .*certificate verify failed"):
        AcmeClient.connect(pebble.directory_url, new_key())  # system store only


def test_half_of_nonces_rejected_ten_issuances_succeed(
        pebble_factory: Any) -> None:  # noqa: F811
    server = pebble_factory(nonce_reject=50)
    responder = Responder(server.http_port)
    try:
        client = connect(server, new_key())
        for i in range(10):
            chains = issue(client, [f"n{i}.example.com"], responder)
            verify_chain(chains[0], server.root_pem(0), f"n{i}.example.com")
    finally:
        responder.close()
    assert client.bad_nonces >= 5  # the fault was real and absorbed


def test_alternate_roots_and_choose_chain(pebble_factory: Any) -> None:  # noqa: F811
    server = pebble_factory(alternate_roots=1)
    responder = Responder(server.http_port)
    try:
        chains = issue(connect(server, new_key()), ["alt.example.com"], responder)
    finally:
        responder.close()
    assert len(chains) == 2
    roots = [server.root_pem(i) for i in range(2)]
    for i, root_pem in enumerate(roots):
        root_cn = x509.load_pem_x509_certificate(root_pem.encode()).subject \
            .get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        chosen = choose_chain(chains, str(root_cn))
        assert chosen == chains[i]
        verify_chain(chosen, root_pem, "alt.example.com")
    assert choose_chain(chains, None) == chains[0]
    assert choose_chain(chains, "No Such Root") == chains[0]


def test_external_account_binding(pebble_factory: Any) -> None:  # noqa: F811
    hmac_key = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
    server = pebble_factory(eab={"kid-1": hmac_key})
    key = new_key()
    client = AcmeClient.connect(server.directory_url, key, ca_bundle=server.ca_bundle)
    assert client.meta.external_account_required
    with pytest.raises(AcmeError, match="requires external account binding"):
        client.ensure_account(EMAIL, agree_tos=True)
    with pytest.raises(AcmeError) as wrong:
        client.ensure_account(EMAIL, agree_tos=True, eab=("kid-1", "A" * 64))
    assert "A" * 64 not in str(wrong.value)
    url = client.ensure_account(EMAIL, agree_tos=True, eab=("kid-1", hmac_key))
    again = AcmeClient.connect(server.directory_url, key, ca_bundle=server.ca_bundle)
    assert again.ensure_account(EMAIL, agree_tos=True) == url


def test_deactivated_account_is_not_found_again(pebble: PebbleServer) -> None:  # noqa: F811
    key = new_key()
    client = connect(pebble, key)
    client.deactivate_account()
    assert client.account_url is None
    with pytest.raises(AcmeError, match="refused the account lookup"):
        AcmeClient.connect(pebble.directory_url, key, ca_bundle=pebble.ca_bundle) \
            .ensure_account(EMAIL, agree_tos=True)


def test_account_key_rollover(pebble: PebbleServer) -> None:  # noqa: F811
    old_key, new = new_key(), new_key()
    client = connect(pebble, old_key)
    url = client.account_url
    client.rollover(new)
    assert client.new_order(make_csr(["rolled.example.com"])[1]).url  # signs with the new key
    assert connect(pebble, new).account_url == url
    assert connect(pebble, old_key).account_url != url  # the old key no longer finds it


@pytest.mark.parametrize("account_key", [
    ec.generate_private_key(ec.SECP384R1()), rsa.generate_private_key(65537, 2048)],
    ids=["ES384", "RS256"])
def test_other_account_key_types_sign_accepted_requests(
        pebble: PebbleServer, responder: Responder,  # noqa: F811
        account_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    client = AcmeClient.connect(pebble.directory_url, account_key, ca_bundle=pebble.ca_bundle)
    url = client.ensure_account(EMAIL, agree_tos=True)
    chains = issue(client, ["keytype.example.com"], responder)
    verify_chain(chains[0], pebble.root_pem(0), "keytype.example.com")
    again = AcmeClient.connect(pebble.directory_url, account_key, ca_bundle=pebble.ca_bundle)
    assert again.ensure_account(EMAIL, agree_tos=True) == url


def test_one_client_shared_by_worker_threads(
        pebble: PebbleServer, responder: Responder) -> None:  # noqa: F811
    client = connect(pebble, new_key())
    names = [f"w{i}.example.com" for i in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        chains = list(pool.map(lambda name: issue(client, [name], responder), names))
    for name, fullchains in zip(names, chains, strict=True):
        verify_chain(fullchains[0], pebble.root_pem(0), name)
