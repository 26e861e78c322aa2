"""aliyun provider against pytest-httpserver speaking the Alidns RPC API (2015-01-09).

The fake server recomputes every request's HMAC-SHA1 signature from the query it
received (with its own encoding code) and refuses a mismatch, as Alidns does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from certplan.model.errors import ProviderError
from certplan.providers import PROVIDERS
from certplan.providers.aliyun import sign, string_to_sign
from certplan.providers.base import Provider

KEY_ID, SECRET = "LTAI-test-id", "test/secret+with=chars"
NAME = "_acme-challenge.www.example.com"
COMMON = {"Format": "JSON", "Version": "2015-01-09", "AccessKeyId": KEY_ID,
          "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0"}
NOT_MINE = {"Code": "InvalidDomainName.NoExist", "HostId": "alidns.aliyuncs.com",
            "Message": "The specified domain name does not exist.", "RequestId": "r-0"}


def test_signature_matches_the_documented_example() -> None:
    # The worked example of Alibaba Cloud's "signature method" documentation
    # (ECS DescribeRegions, AccessKeyId testid, secret testsecret).
    params = {"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
              "SignatureMethod": "HMAC-SHA1",
              "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
              "SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z",
              "Version": "2014-05-26"}
    assert string_to_sign("GET", params) == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
        "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-"
        "4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z"
        "%26Version%3D2014-05-26")
    assert sign("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def expected_signature(params: dict[str, str]) -> str:
    def enc(text: str) -> str:
        return quote(text, safe="~")     # RFC 3986 unreserved stay; "/" and " " encoded
    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
    to_sign = "GET&" + enc("/") + "&" + enc(canonical)
    mac = hmac.new((SECRET + "&").encode(), to_sign.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


class FakeAlidns:
    """Answers a script of (expected action parameters, status, JSON body) in order."""

    def __init__(self) -> None:
        self.script: list[tuple[dict[str, str], int, dict[str, Any]]] = []
        self.nonces: set[str] = set()
        self.problems: list[str] = []

    def expect(self, params: dict[str, str], body: dict[str, Any], status: int = 200) -> None:
        self.script.append((params, status, body))

    def __call__(self, request: Request) -> Response:
        args = request.args.to_dict()
        signature = args.pop("Signature", "")
        problem = self._check(args, signature)
        if problem:
            self.problems.append(problem)
            body = {"Code": "SignatureDoesNotMatch", "Message": problem, "RequestId": "x"}
            return Response(json.dumps(body), status=400, content_type="application/json")
        wanted, status, answer = self.script.pop(0)
        got = {k: v for k, v in args.items() if k not in COMMON and
               k not in ("SignatureNonce", "Timestamp")}
        if got != wanted:
            self.problems.append(f"expected {wanted}, got {got}")
            return Response("{}", status=500)
        return Response(json.dumps(answer), status=status, content_type="application/json")

    def _check(self, args: dict[str, str], signature: str) -> str:
        if any(args.get(k) != v for k, v in COMMON.items()):
            return f"common parameters wrong: {args}"
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", args.get("Timestamp", "")):
            return f"bad Timestamp {args.get('Timestamp')!r}"
        nonce = args.get("SignatureNonce", "")
        if not nonce or nonce in self.nonces:
            return f"SignatureNonce missing or reused: {nonce!r}"
        self.nonces.add(nonce)
        if not hmac.compare_digest(signature, expected_signature(args)):
            return "signature mismatch"
        return ""


@pytest.fixture()
def alidns(httpserver: HTTPServer) -> FakeAlidns:
    fake = FakeAlidns()
    httpserver.expect_request("/", method="GET").respond_with_handler(fake)
    return fake


@pytest.fixture()
def provider(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Provider:
    monkeypatch.setenv("Ali_Key", KEY_ID)
    monkeypatch.setenv("Ali_Secret", SECRET)
    return PROVIDERS.get("aliyun")("ali", {"endpoint": httpserver.url_for("/")})


def expect_domain_lookup(fake: FakeAlidns) -> None:
    fake.expect({"Action": "DescribeDomainRecords", "DomainName": "www.example.com",
                 "PageNumber": "1", "PageSize": "1"}, NOT_MINE, status=400)
    fake.expect({"Action": "DescribeDomainRecords", "DomainName": "example.com",
                 "PageNumber": "1", "PageSize": "1"},
                {"TotalCount": 7, "PageNumber": 1, "PageSize": 1, "RequestId": "r-1",
                 "DomainRecords": {"Record": []}})


def records(*items: tuple[str, str, str], total: int | None = None) -> dict[str, Any]:
    rows = [{"RR": rr, "Type": "TXT", "Value": value, "RecordId": rid, "TTL": 600,
             "DomainName": "example.com", "Line": "default", "Status": "ENABLE"}
            for rid, rr, value in items]
    return {"TotalCount": total if total is not None else len(rows), "PageNumber": 1,
            "PageSize": 500, "RequestId": "r-2", "DomainRecords": {"Record": rows}}


def search(page: int = 1) -> dict[str, str]:
    return {"Action": "DescribeDomainRecords", "DomainName": "example.com",
            "RRKeyWord": "_acme-challenge.www", "TypeKeyWord": "TXT",
            "PageNumber": str(page), "PageSize": "500"}


def test_add_finds_the_domain_and_adds_a_signed_record(alidns: FakeAlidns,
                                                       provider: Provider) -> None:
    expect_domain_lookup(alidns)
    alidns.expect(search(), records(("1", "_acme-challenge.www2", "value-1")))  # fuzzy match
    alidns.expect({"Action": "AddDomainRecord", "DomainName": "example.com",
                   "RR": "_acme-challenge.www", "Type": "TXT", "Value": "value-1",
                   "TTL": "600"}, {"RequestId": "r-3", "RecordId": "42"})
    provider.add_txt(NAME, "value-1")
    assert alidns.problems == [] and alidns.script == []
    assert len(alidns.nonces) == 4


def test_add_is_idempotent(alidns: FakeAlidns, provider: Provider) -> None:
    expect_domain_lookup(alidns)
    alidns.expect(search(), records(("5", "_acme-challenge.www", "value-1")))
    provider.add_txt(NAME, "value-1")
    assert alidns.problems == [] and alidns.script == []


def test_delete_pages_through_and_deletes_only_the_value(alidns: FakeAlidns,
                                                         provider: Provider) -> None:
    expect_domain_lookup(alidns)
    first = [(str(i), "_acme-challenge.www", f"old-{i}") for i in range(500)]
    alidns.expect(search(1), records(*first, total=502))
    alidns.expect(search(2), records(("900", "_acme-challenge.www", "value-1"),
                                     ("901", "_acme-challenge.www", "value-2"), total=502))
    alidns.expect({"Action": "DeleteDomainRecord", "RecordId": "900"},
                  {"RequestId": "r-4", "RecordId": "900"})
    provider.delete_txt(NAME, "value-1")
    assert alidns.problems == [] and alidns.script == []


def test_api_error_is_reported_with_code_and_message(alidns: FakeAlidns,
                                                     provider: Provider) -> None:
    expect_domain_lookup(alidns)
    alidns.expect(search(), records())
    alidns.expect({"Action": "AddDomainRecord", "DomainName": "example.com",
                   "RR": "_acme-challenge.www", "Type": "TXT", "Value": "v", "TTL": "600"},
                  {"Code": "Forbidden.RAM", "RequestId": "r-5",
                   "Message": "User not authorized to operate on the specified resource."},
                  status=403)
    with pytest.raises(ProviderError) as info:
        provider.add_txt(NAME, "v")
    assert str(info.value) == ("ali (aliyun): AddDomainRecord: HTTP 403: Forbidden.RAM: "
                               "User not authorized to operate on the specified resource.")
    assert SECRET not in str(info.value)


def test_wrong_key_fails_at_the_first_request(alidns: FakeAlidns, provider: Provider,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    alidns.expect({"Action": "DescribeDomainRecords", "DomainName": "www.example.com",
                   "PageNumber": "1", "PageSize": "1"},
                  {"Code": "InvalidAccessKeyId.NotFound", "RequestId": "r-6",
                   "Message": "Specified access key is not found."}, status=404)
    with pytest.raises(ProviderError, match="InvalidAccessKeyId.NotFound"):
        provider.add_txt(NAME, "v")
    monkeypatch.setenv("Ali_Secret", "not-the-secret")
    with pytest.raises(ProviderError, match="SignatureDoesNotMatch"):
        provider.delete_txt(NAME, "v")
    assert alidns.problems == ["signature mismatch"]


def test_no_domain_of_the_account(alidns: FakeAlidns, provider: Provider) -> None:
    for domain in ("www.example.com", "example.com"):
        alidns.expect({"Action": "DescribeDomainRecords", "DomainName": domain,
                       "PageNumber": "1", "PageSize": "1"}, NOT_MINE, status=400)
    with pytest.raises(ProviderError, match="no domain of this account holds " + NAME):
        provider.add_txt(NAME, "v")


def test_missing_credentials_name_acme_sh_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("Ali_Key", raising=False)
    provider = PROVIDERS.get("aliyun")("ali", {"endpoint": "http://127.0.0.1:9/"})
    with pytest.raises(ProviderError, match="access_key_id: .*Ali_Key"):
        provider.add_txt(NAME, "v")
