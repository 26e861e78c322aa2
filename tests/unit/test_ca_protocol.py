"""Wire details Pebble 2.4 cannot show: badNonce bookkeeping, `replaces` and its
rejection (RFC 9773), renewalInfo. A pytest-httpserver speaks the ACME side."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

from certplan.ca import AcmeClient, ReplacesRejected, TermsNotAgreed
from certplan.model.errors import AcmeError

PROBLEM = "application/problem+json"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakeCA:
    """Just enough ACME to reach newOrder; records every POST's nonce and payload."""

    def __init__(self, server: HTTPServer, renewal_info: bool = True,
                 meta: dict[str, Any] | None = None, accounts_exist: bool = True) -> None:
        self.server = server
        self.counter = 0
        self.heads = 0
        self.posts: list[tuple[str, dict[str, Any], str]] = []  # (path, payload, nonce)
        directory = {k: server.url_for(p) for k, p in (
            ("newNonce", "/nonce"), ("newAccount", "/acct"), ("newOrder", "/order"),
            ("revokeCert", "/revoke"))}
        if renewal_info:
            directory["renewalInfo"] = server.url_for("/ari")
        if meta:
            directory["meta"] = meta
        self.accounts_exist = accounts_exist
        server.expect_request("/dir").respond_with_json(directory)
        server.expect_request("/nonce", method="HEAD").respond_with_handler(self._nonce)
        server.expect_request("/acct", method="POST").respond_with_handler(
            self.wrap(self._account))

    def _account(self, payload: dict[str, Any]) -> Response:
        if payload.get("onlyReturnExisting") and not self.accounts_exist:
            return self.problem("accountDoesNotExist", "no account for this key", 400)
        return self.reply({"status": "valid"}, 200 if self.accounts_exist else 201,
                          Location=self.server.url_for("/acct/1"))

    def fresh_nonce(self) -> str:
        self.counter += 1
        return b64(f"nonce-{self.counter}".encode())

    def _nonce(self, request: Request) -> Response:
        self.heads += 1
        return Response(status=200, headers={"Replay-Nonce": self.fresh_nonce()})

    def reply(self, body: dict[str, Any], status: int, content_type: str = "application/json",
              **headers: str) -> Response:
        headers["Replay-Nonce"] = self.fresh_nonce()
        return Response(json.dumps(body), status=status, headers=headers,
                        content_type=content_type)

    def problem(self, kind: str, detail: str, status: int) -> Response:
        return self.reply({"type": f"urn:ietf:params:acme:error:{kind}", "detail": detail},
                          status, content_type=PROBLEM)

    def wrap(self, answer: Callable[[dict[str, Any]], Response]) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            jws = json.loads(request.get_data())
            protected = json.loads(unb64(jws["protected"]))
            payload = json.loads(unb64(jws["payload"])) if jws["payload"] else {}
            self.posts.append((request.path, payload, protected["nonce"]))
            return answer(payload)
        return handler


def make_csr(names: list[str]) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                          critical=False)
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM)


def connected(ca: FakeCA, **kwargs: Any) -> AcmeClient:
    client = AcmeClient.connect(ca.server.url_for("/dir"), ec.generate_private_key(
        ec.SECP256R1()), **kwargs)
    client.ensure_account("ops@example.com", agree_tos=True)
    return client


def test_bad_nonce_is_retried_per_post_using_the_error_answers_nonce(
        httpserver: HTTPServer) -> None:
    ca = FakeCA(httpserver)
    failures = iter(range(3))

    def order(payload: dict[str, Any]) -> Response:
        if next(failures, None) is not None:
            return ca.problem("badNonce", "JWS has an invalid anti-replay nonce", 400)
        return ca.reply({"status": "pending", "identifiers": payload["identifiers"],
                         "authorizations": [], "finalize": httpserver.url_for("/fin")},
                        201, Location=httpserver.url_for("/order/1"))

    httpserver.expect_request("/order", method="POST").respond_with_handler(ca.wrap(order))
    client = connected(ca)
    result = client.new_order(make_csr(["a.example.com"]))
    assert result.url == httpserver.url_for("/order/1")
    assert client.bad_nonces == 3
    order_posts = [p for p in ca.posts if p[0] == "/order"]
    assert len(order_posts) == 4
    assert ca.heads == 1  # every retry used the nonce carried by the badNonce answer
    nonces = [nonce for _, _, nonce in ca.posts]
    assert len(set(nonces)) == len(nonces)


def test_bad_nonce_gives_up_after_nonce_retries(httpserver: HTTPServer) -> None:
    ca = FakeCA(httpserver)
    httpserver.expect_request("/order", method="POST").respond_with_handler(
        ca.wrap(lambda payload: ca.problem("badNonce", "bad nonce", 400)))
    client = connected(ca, nonce_retries=3)
    with pytest.raises(AcmeError, match=r"refused the new order: badNonce: bad nonce"):
        client.new_order(make_csr(["a.example.com"]))
    assert len([p for p in ca.posts if p[0] == "/order"]) == 3


def test_replaces_and_profile_are_sent_and_rejection_is_distinct(
        httpserver: HTTPServer) -> None:
    ca = FakeCA(httpserver)
    httpserver.expect_request("/order", method="POST").respond_with_handler(ca.wrap(
        lambda payload: ca.problem("alreadyReplaced", "certificate already replaced", 409)))
    client = connected(ca)
    with pytest.raises(ReplacesRejected, match="alreadyReplaced") as caught:
        client.new_order(make_csr(["a.example.com", "b.example.com"]),
                         profile="shortlived", replaces="aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
    assert isinstance(caught.value, AcmeError)
    _, payload, _ = [p for p in ca.posts if p[0] == "/order"][0]
    assert payload == {
        "identifiers": [{"type": "dns", "value": "a.example.com"},
                        {"type": "dns", "value": "b.example.com"}],
        "profile": "shortlived", "replaces": "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"}


def test_other_order_problems_are_plain_acme_errors(httpserver: HTTPServer) -> None:
    ca = FakeCA(httpserver)
    httpserver.expect_request("/order", method="POST").respond_with_handler(ca.wrap(
        lambda payload: ca.problem("rejectedIdentifier", "no such TLD", 400)))
    client = connected(ca)
    with pytest.raises(AcmeError) as caught:
        client.new_order(make_csr(["a.invalid"]), replaces="x.y")
    assert not isinstance(caught.value, ReplacesRejected)
    assert str(caught.value) == (f"CA {httpserver.url_for('/dir')} refused the new order: "
                                 "rejectedIdentifier: no such TLD (HTTP 400 BAD REQUEST from "
                                 f"POST {httpserver.url_for('/order')})")


def test_directory_says_whether_the_ca_serves_renewal_information(
        httpserver: HTTPServer) -> None:
    FakeCA(httpserver, renewal_info=False)
    client = AcmeClient.connect(httpserver.url_for("/dir"), ec.generate_private_key(
        ec.SECP256R1()))
    assert not client.meta.renewal_info  # then no `replaces` is sent


# -- the account: terms of service and EAB are asked for only for a new account -------------

STRICT_CA = {"termsOfService": "https://ca.example/tos.pdf", "externalAccountRequired": True}


def new_key_client(ca: FakeCA) -> AcmeClient:
    return AcmeClient.connect(ca.server.url_for("/dir"), ec.generate_private_key(ec.SECP256R1()))


def test_an_existing_account_needs_neither_terms_nor_eab(httpserver: HTTPServer) -> None:
    ca = FakeCA(httpserver, meta=STRICT_CA, accounts_exist=True)
    asked: list[str] = []
    url = new_key_client(ca).ensure_account(None, agree_tos=False,
                                            eab=lambda: asked.append("eab") or None)
    assert url == httpserver.url_for("/acct/1") and asked == []
    assert [payload.get("onlyReturnExisting") for _, payload, _ in ca.posts] == [True]


def test_a_new_account_needs_the_terms_agreed_before_eab_is_asked_for(
        httpserver: HTTPServer) -> None:
    ca = FakeCA(httpserver, meta=STRICT_CA, accounts_exist=False)
    asked: list[str] = []
    with pytest.raises(TermsNotAgreed, match=r"requires agreeing to its terms of service "
                                             r"\(https://ca\.example/tos\.pdf\): set "
                                             r"agree_tos = true") as caught:
        new_key_client(ca).ensure_account(None, agree_tos=False,
                                          eab=lambda: asked.append("eab") or None)
    assert caught.value.terms_of_service == "https://ca.example/tos.pdf"
    assert asked == [] and len(ca.posts) == 1  # the lookup only: nothing was created


def test_a_new_account_asks_for_eab_once_and_needs_it(httpserver: HTTPServer) -> None:
    ca = FakeCA(httpserver, meta=STRICT_CA, accounts_exist=False)
    asked: list[str] = []
    with pytest.raises(AcmeError, match="requires external account binding"):
        new_key_client(ca).ensure_account(None, agree_tos=True,
                                          eab=lambda: asked.append("eab") or None)
    assert asked == ["eab"] and len(ca.posts) == 1
