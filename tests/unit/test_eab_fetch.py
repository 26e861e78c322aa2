"""ZeroSSL's EAB-by-e-mail API as pytest-httpserver speaks it: form POST `email=...`,
`{"success": true, "eab_kid", "eab_hmac_key"}` or `{"success": false, "error": {...}}`.
Failures name the URL and never carry the HMAC key."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from certplan.ca.eab import fetch_eab_by_email
from certplan.model.errors import AcmeError
from certplan.model.presets import PRESETS
from tests.servers.ports import free_port

SECRET = "c2VjcmV0LWhtYWMta2V5LW5ldmVyLXNob3du"


def test_credentials_for_the_email(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/acme/eab-credentials-email", method="POST", data="email=ops%2Bcerts%40example.com",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ).respond_with_json({"success": True, "eab_kid": "kid-1", "eab_hmac_key": SECRET})
    url = httpserver.url_for("/acme/eab-credentials-email")
    assert fetch_eab_by_email(url, "ops+certs@example.com") == ("kid-1", SECRET)


@pytest.mark.parametrize("status,body,message", [
    (200, {"success": False, "error": {"code": 2900, "type": "invalid_email"}},
     "for a@example.com refused (HTTP 200): code 2900, type invalid_email"),
    (500, {"success": False}, "refused (HTTP 500)"),
    (200, {"success": True, "eab_kid": "kid"}, "answer lacks eab_kid or eab_hmac_key"),
    (200, {"success": True, "eab_kid": "", "eab_hmac_key": SECRET},
     "answer lacks eab_kid or eab_hmac_key"),
    (200, ["not", "an", "object"], "HTTP 200, not a JSON object"),
    (502, None, "HTTP 502, not a JSON object"),
])
def test_refusals_are_clear(httpserver: HTTPServer, status: int, body: Any,
                            message: str) -> None:
    handler = httpserver.expect_request("/eab", method="POST")
    if body is None:
        handler.respond_with_data("<html>bad gateway</html>", status=status)
    else:
        handler.respond_with_json(body, status=status)
    with pytest.raises(AcmeError) as info:
        fetch_eab_by_email(httpserver.url_for("/eab"), "a@example.com")
    assert message in str(info.value)
    assert str(info.value).startswith(f"EAB credentials from {httpserver.url_for('/eab')}")
    assert SECRET not in str(info.value)


def test_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}/eab"
    with pytest.raises(AcmeError, match=f"EAB credentials from {url}: unreachable"):
        fetch_eab_by_email(url, "a@example.com", timeout=2)


def test_only_zerossl_fetches_by_email() -> None:
    assert PRESETS["zerossl"].eab_email_url == \
        "https://api.zerossl.com/acme/eab-credentials-email"
    assert [p.name for p in PRESETS.values() if p.eab_email_url] == ["zerossl"]
    assert {p.name for p in PRESETS.values() if p.eab_required} == {
        "zerossl", "google", "google-staging", "sslcom-ecc", "sslcom-rsa"}
