"""cloudflare provider against pytest-httpserver speaking Cloudflare API v4."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from certplan.model.errors import ProviderError
from certplan.providers import PROVIDERS
from certplan.providers.base import Provider

TOKEN = "cf-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NAME = "_acme-challenge.www.example.com"


def ok(result: Any, **extra: Any) -> dict[str, Any]:
    return {"success": True, "errors": [], "messages": [], "result": result, **extra}


def failed(code: int, message: str) -> dict[str, Any]:
    return {"success": False, "errors": [{"code": code, "message": message}],
            "messages": [], "result": None}


@pytest.fixture()
def provider(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Provider:
    monkeypatch.setenv("CF_TEST_TOKEN", TOKEN)
    cls = PROVIDERS.get("cloudflare")
    return cls("cf", {"api_token": {"env": "CF_TEST_TOKEN"},
                      "base_url": httpserver.url_for("/client/v4")})


def expect_zone_lookup(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request(
        "/client/v4/zones", method="GET", query_string={"name": "www.example.com"},
        headers=AUTH).respond_with_json(ok([], result_info={"page": 1, "total_pages": 0}))
    httpserver.expect_ordered_request(
        "/client/v4/zones", method="GET", query_string={"name": "example.com"},
        headers=AUTH).respond_with_json(ok([{"id": "zone1", "name": "example.com"}]))


def records_page(page: int, total_pages: int, records: list[dict[str, str]]) -> dict[str, Any]:
    return ok(records, result_info={"page": page, "per_page": 100, "total_pages": total_pages,
                                    "count": len(records), "total_count": 150})


def test_add_walks_up_to_the_zone_and_creates_the_record(httpserver: HTTPServer,
                                                         provider: Provider) -> None:
    expect_zone_lookup(httpserver)
    httpserver.expect_ordered_request(
        "/client/v4/zones/zone1/dns_records", method="POST",
        headers={**AUTH, "Content-Type": "application/json"},
        json={"type": "TXT", "name": NAME, "content": "value-1", "ttl": 60},
    ).respond_with_json(ok({"id": "rec1", "type": "TXT", "name": NAME, "content": "value-1"}))
    provider.add_txt(NAME + ".", "value-1")
    httpserver.check_assertions()
    assert len(httpserver.log) == 3


def test_identical_record_already_there_counts_as_added(httpserver: HTTPServer,
                                                        provider: Provider) -> None:
    expect_zone_lookup(httpserver)
    httpserver.expect_ordered_request(
        "/client/v4/zones/zone1/dns_records", method="POST", headers=AUTH,
    ).respond_with_json(failed(81058, "An identical record already exists."), status=400)
    provider.add_txt(NAME, "value-1")
    httpserver.check_assertions()


def test_delete_searches_every_page_and_deletes_only_the_value(httpserver: HTTPServer,
                                                               provider: Provider) -> None:
    expect_zone_lookup(httpserver)
    query = {"type": "TXT", "name": NAME, "per_page": "100"}
    httpserver.expect_ordered_request(
        "/client/v4/zones/zone1/dns_records", method="GET", headers=AUTH,
        query_string={**query, "page": "1"},
    ).respond_with_json(records_page(1, 2, [{"id": "a", "content": "other"},
                                            {"id": "b", "content": "another"}]))
    httpserver.expect_ordered_request(
        "/client/v4/zones/zone1/dns_records", method="GET", headers=AUTH,
        query_string={**query, "page": "2"},
    ).respond_with_json(records_page(2, 2, [{"id": "c", "content": '"value-1"'}]))
    httpserver.expect_ordered_request(
        "/client/v4/zones/zone1/dns_records/c", method="DELETE", headers=AUTH,
    ).respond_with_json(ok({"id": "c"}))
    provider.delete_txt(NAME, "value-1")
    httpserver.check_assertions()
    assert len(httpserver.log) == 5


def test_api_errors_are_reported_without_the_token(httpserver: HTTPServer,
                                                   provider: Provider) -> None:
    expect_zone_lookup(httpserver)
    httpserver.expect_ordered_request(
        "/client/v4/zones/zone1/dns_records", method="POST", headers=AUTH,
    ).respond_with_json({"success": False, "messages": [], "result": None, "errors": [
        {"code": 10000, "message": "Authentication error"},
        {"code": 9109, "message": "Unauthorized to access requested resource"}]}, status=403)
    with pytest.raises(ProviderError) as info:
        provider.add_txt(NAME, "value-1")
    message = str(info.value)
    assert message == ("cf (cloudflare): POST /zones/zone1/dns_records: HTTP 403: "
                       "10000: Authentication error; 9109: Unauthorized to access "
                       "requested resource")
    assert TOKEN not in message


def test_no_visible_zone(httpserver: HTTPServer, provider: Provider) -> None:
    for name in ("www.example.com", "example.com"):
        httpserver.expect_ordered_request(
            "/client/v4/zones", method="GET", query_string={"name": name},
        ).respond_with_json(ok([]))
    with pytest.raises(ProviderError, match="no zone for _acme-challenge.www.example.com"):
        provider.add_txt(NAME, "value-1")
    httpserver.check_assertions()


def test_missing_token_names_the_variable(httpserver: HTTPServer, provider: Provider,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CF_TEST_TOKEN")
    with pytest.raises(ProviderError, match="cf \\(cloudflare\\): api_token: .*CF_TEST_TOKEN"):
        provider.add_txt(NAME, "value-1")
    assert len(httpserver.log) == 0


def test_not_json_and_unreachable(httpserver: HTTPServer, provider: Provider) -> None:
    httpserver.expect_request("/client/v4/zones").respond_with_data("<html>", status=502)
    with pytest.raises(ProviderError, match="HTTP 502, response is not JSON"):
        provider.add_txt(NAME, "v")
    cls = PROVIDERS.get("cloudflare")
    dead = cls("cf", {"api_token": {"env": "CF_TEST_TOKEN"},
                      "base_url": "http://127.0.0.1:9/client/v4", "timeout": 2})
    with pytest.raises(ProviderError, match="cannot reach http://127.0.0.1:9/client/v4"):
        dead.add_txt(NAME, "v")
