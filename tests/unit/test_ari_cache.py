"""Retry-After honoured (RFC 9773 4.3.2): a window is fetched again only after the
CA's Retry-After (clamped to 1 minute .. 1 day, 6 hours without one); the last
window seen stands in when the CA cannot be reached; a broken cache means fetch."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from certplan.observe.ari import AriLookup, fetch_windows
from certplan.observe.ari_cache import next_fetch

NOW = datetime(2026, 7, 1, tzinfo=UTC)
WINDOW = {"start": "2026-08-01T00:00:00Z", "end": "2026-08-03T00:00:00Z"}
MOVED = {"start": "2026-07-01T00:00:00Z", "end": "2026-07-01T06:00:00Z"}


def serve(server: HTTPServer, window: dict[str, str], retry_after: str | None) -> AriLookup:
    server.clear()
    server.expect_request("/dir").respond_with_json(
        {"renewalInfo": server.url_for("/ari/")})
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    server.expect_request("/ari/aki.www").respond_with_json({"suggestedWindow": window},
                                                           headers=headers)
    return AriLookup(name="www", directory=server.url_for("/dir"), cert_id="aki.www")


def ari_calls(server: HTTPServer) -> int:
    return sum(1 for request, _ in server.log if request.path.startswith("/ari/"))


@pytest.mark.parametrize("retry_after,within,after", [
    ("3600", timedelta(minutes=59), timedelta(minutes=60)),
    ("5", timedelta(seconds=59), timedelta(minutes=1)),         # clamped up to 1 minute
    ("604800", timedelta(hours=23), timedelta(days=1)),         # clamped down to 1 day
    (None, timedelta(hours=5, minutes=59), timedelta(hours=6)),  # none: 6 hours
    ("soon", timedelta(hours=5, minutes=59), timedelta(hours=6)),  # unusable: 6 hours
])
def test_fetched_again_only_after_retry_after(httpserver: HTTPServer, tmp_path: Path,
                                              retry_after: str | None, within: timedelta,
                                              after: timedelta) -> None:
    cache = tmp_path / "ari-cache.json"
    target = serve(httpserver, WINDOW, retry_after)
    windows, _ = fetch_windows([target], cache_path=cache, now=NOW)
    assert windows["www"].start == datetime(2026, 8, 1, tzinfo=UTC)
    assert ari_calls(httpserver) == 1

    target = serve(httpserver, MOVED, "3600")  # the CA moves the window meanwhile
    windows, notes = fetch_windows([target], cache_path=cache, now=NOW + within)
    assert windows["www"].start == datetime(2026, 8, 1, tzinfo=UTC) and notes == {}
    assert ari_calls(httpserver) == 0 and not httpserver.log  # not even the directory

    windows, _ = fetch_windows([target], cache_path=cache, now=NOW + after)
    assert windows["www"].start == datetime(2026, 7, 1, tzinfo=UTC)
    assert ari_calls(httpserver) == 1


def test_last_window_stands_in_when_the_ca_is_down(httpserver: HTTPServer,
                                                   tmp_path: Path) -> None:
    cache = tmp_path / "ari-cache.json"
    target = serve(httpserver, WINDOW, "60")
    fetch_windows([target], cache_path=cache, now=NOW)
    httpserver.clear()
    httpserver.expect_request("/dir").respond_with_data("maintenance", status=503)
    windows, notes = fetch_windows([target], cache_path=cache, now=NOW + timedelta(hours=1))
    assert windows["www"].start == datetime(2026, 8, 1, tzinfo=UTC)
    assert notes["www"] == (f"the directory {target.directory} answered HTTP 503; "
                            f"using the window fetched before")


def test_a_404_is_not_papered_over(httpserver: HTTPServer, tmp_path: Path) -> None:
    cache = tmp_path / "ari-cache.json"
    target = serve(httpserver, WINDOW, "60")
    fetch_windows([target], cache_path=cache, now=NOW)
    httpserver.clear()
    httpserver.expect_request("/dir").respond_with_json(
        {"renewalInfo": httpserver.url_for("/ari/")})
    httpserver.expect_request("/ari/aki.www").respond_with_data("", status=404)
    windows, notes = fetch_windows([target], cache_path=cache, now=NOW + timedelta(hours=1))
    assert windows == {} and notes == {"www": "renewalInfo answered HTTP 404"}


@pytest.mark.parametrize("content", ["{not json", '["a list"]', '{"entries": {"x": 1}}',
                                     '{"entries": {"K": {"start": "yesterday"}}}'])
def test_broken_cache_means_fetch(httpserver: HTTPServer, tmp_path: Path,
                                  content: str) -> None:
    cache = tmp_path / "ari-cache.json"
    target = serve(httpserver, WINDOW, "3600")
    cache.write_text(content.replace("K", f"{target.directory} aki.www"))
    windows, notes = fetch_windows([target], cache_path=cache, now=NOW)
    assert "www" in windows and notes == {}
    assert ari_calls(httpserver) == 1
    saved = json.loads(cache.read_text())["entries"]
    assert list(saved) == [f"{target.directory} aki.www"]


def test_cache_file_only_where_the_keystore_exists(httpserver: HTTPServer,
                                                   tmp_path: Path) -> None:
    target = serve(httpserver, WINDOW, "3600")
    missing = tmp_path / "no-keystore" / "ari-cache.json"
    fetch_windows([target], cache_path=missing, now=NOW)
    assert not missing.parent.exists()  # plan in CI creates no folder
    cache = tmp_path / "ari-cache.json"
    fetch_windows([target], cache_path=cache, now=NOW)
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o644
    entry = json.loads(cache.read_text())["entries"][f"{target.directory} aki.www"]
    assert entry["next_fetch"] == (NOW + timedelta(hours=1)).isoformat()


def test_next_fetch_bounds() -> None:
    assert next_fetch(NOW, 0) == NOW + timedelta(minutes=1)
    assert next_fetch(NOW, 21600) == NOW + timedelta(hours=6)
    assert next_fetch(NOW, 10**9) == NOW + timedelta(days=1)
    assert next_fetch(NOW, None) == NOW + timedelta(hours=6)
