"""ARI (RFC 9773): parsing renewalInfo answers and fetching them from a CA over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from certplan.observe.ari import AriLookup, fetch_windows, parse_window

WINDOW = {"start": "2026-07-01T00:00:00Z", "end": "2026-07-03T12:00:00.123456789Z"}


def test_parse_window() -> None:
    w = parse_window({"suggestedWindow": WINDOW, "explanationURL": "https://ca/why"}, "21600")
    assert w.start == datetime(2026, 7, 1, tzinfo=UTC)
    assert w.end == datetime(2026, 7, 3, 12, 0, 0, 123456, tzinfo=UTC)
    assert (w.explanation_url, w.retry_after) == ("https://ca/why", 21600)


def test_parse_window_optional_parts() -> None:
    w = parse_window({"suggestedWindow": WINDOW, "explanationURL": 5}, "in a while")
    assert w.explanation_url is None and w.retry_after is None
    from datetime import UTC, datetime

    dated = parse_window({"suggestedWindow": WINDOW}, "Wed, 21 Oct 2026 07:28:00 GMT",
                         now=datetime(2026, 10, 21, 7, 0, tzinfo=UTC))
    assert dated.retry_after == 28 * 60
    assert parse_window({"suggestedWindow": WINDOW}, None).retry_after is None


@pytest.mark.parametrize("body,message", [
    (None, "no suggestedWindow"),
    ([], "no suggestedWindow"),
    ({"suggestedWindow": "soon"}, "no suggestedWindow"),
    ({"suggestedWindow": {"start": "2026-07-01T00:00:00Z"}}, "RFC 3339 start and end"),
    ({"suggestedWindow": {"start": "yesterday", "end": "today"}}, "RFC 3339 start and end"),
    ({"suggestedWindow": {"start": "2026-07-01T00:00:00", "end": "2026-07-02T00:00:00"}},
     "no time zone"),
    ({"suggestedWindow": {"start": "2026-07-02T00:00:00Z", "end": "2026-07-01T00:00:00Z"}},
     "ends before it starts"),
])
def test_parse_window_malformed(body: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_window(body, None)


def directory(server: HTTPServer, with_ari: bool = True) -> str:
    doc: dict[str, Any] = {"newNonce": server.url_for("/nonce")}
    if with_ari:
        doc["renewalInfo"] = server.url_for("/renewal-info/")
    server.expect_request("/dir").respond_with_json(doc)
    return server.url_for("/dir")


def target(name: str, url: str, cert_id: str | None = None) -> AriLookup:
    return AriLookup(name=name, directory=url, cert_id=cert_id or f"aki.{name}")


def test_fetch_window_retry_after_and_explanation(httpserver: HTTPServer) -> None:
    url = directory(httpserver)
    httpserver.expect_request("/renewal-info/aki.www").respond_with_json(
        {"suggestedWindow": WINDOW, "explanationURL": "https://ca/incident"},
        headers={"Retry-After": "21600"})
    windows, notes = fetch_windows([target("www", url)])
    assert notes == {}
    w = windows["www"]
    assert (w.start, w.explanation_url, w.retry_after) == (
        datetime(2026, 7, 1, tzinfo=UTC), "https://ca/incident", 21600)


def test_fetch_many_one_directory_request(httpserver: HTTPServer) -> None:
    url = directory(httpserver)
    for i in range(5):
        httpserver.expect_request(f"/renewal-info/aki.c{i}").respond_with_json(
            {"suggestedWindow": WINDOW})
    windows, notes = fetch_windows([target(f"c{i}", url) for i in range(5)])
    assert sorted(windows) == [f"c{i}" for i in range(5)] and notes == {}
    dir_calls = [r for r, _ in httpserver.log if r.path == "/dir"]
    assert len(dir_calls) == 1


def test_fetch_malformed_and_404(httpserver: HTTPServer) -> None:
    url = directory(httpserver)
    httpserver.expect_request("/renewal-info/aki.bad").respond_with_json({"window": 1})
    httpserver.expect_request("/renewal-info/aki.text").respond_with_data("<html>")
    httpserver.expect_request("/renewal-info/aki.gone").respond_with_json(
        {"type": "urn:ietf:params:acme:error:malformed"}, status=404)
    windows, notes = fetch_windows([target(n, url) for n in ("bad", "text", "gone")])
    assert windows == {}
    assert notes == {
        "bad": "malformed renewalInfo answer: answer has no suggestedWindow object",
        "text": "malformed renewalInfo answer: answer has no suggestedWindow object",
        "gone": "renewalInfo answered HTTP 404",
    }


def test_fetch_ca_without_renewal_info(httpserver: HTTPServer) -> None:
    url = directory(httpserver, with_ari=False)
    windows, notes = fetch_windows([target("www", url), target("api", url)])
    assert windows == {}
    assert notes == {"www": "the CA offers no renewal information",
                     "api": "the CA offers no renewal information"}


def test_fetch_directory_error_status(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/dir").respond_with_data("down", status=503)
    url = httpserver.url_for("/dir")
    windows, notes = fetch_windows([target("www", url), target("api", url)])
    assert windows == {}
    assert notes == {"www": f"the directory {url} answered HTTP 503",
                     "api": f"the directory {url} answered HTTP 503"}


def test_fetch_unreachable_ca() -> None:
    from tests.servers.ports import free_port

    url = f"http://127.0.0.1:{free_port()}/dir"
    windows, notes = fetch_windows([target("www", url), target("api", url)], timeout=2)
    assert windows == {}
    assert notes == {"www": "could not reach the CA (ConnectionError)",
                     "api": "could not reach the CA (ConnectionError)"}


def test_fetch_two_cas(httpserver: HTTPServer) -> None:
    url = directory(httpserver)
    calls: list[str] = []

    def slow_ca(request: Request) -> Response:
        calls.append(request.path)
        return Response("{}", status=500)

    httpserver.expect_request("/renewal-info/aki.www").respond_with_json(
        {"suggestedWindow": WINDOW})
    httpserver.expect_request("/other-dir").respond_with_handler(slow_ca)
    windows, notes = fetch_windows([target("www", url),
                                    target("x", httpserver.url_for("/other-dir"))])
    assert list(windows) == ["www"] and "x" in notes and calls == ["/other-dir"]


def test_retry_after_as_http_date_is_seconds_from_now() -> None:
    from datetime import UTC, datetime

    from certplan.observe.ari import retry_after_seconds

    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Thu, 26 Nov 2026 18:00:00 GMT", now) == 6 * 3600
    assert retry_after_seconds("Thu, 26 Nov 2026 11:00:00 GMT", now) == 0  # already past
    assert retry_after_seconds("21600", now) == 21600
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None
