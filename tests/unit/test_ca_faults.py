"""Pure pieces of CA fault handling: Retry-After to a time, the rate-limit record and
its file, body excerpts, the deadline each request sees, and which answers are rate
limits (real HTTP answers from pytest-httpserver)."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from pytest_httpserver import HTTPServer

from certplan.ca.deadline import deadline_scope, time_left
from certplan.ca.faults import HttpFailure, excerpt
from certplan.ca.network import RetryingNetwork, rate_limit_of
from certplan.ca.polling import (
    LONGEST_RATE_LIMIT,
    UNSTATED_RATE_LIMIT,
    retry_after_until,
    utc_minute,
)
from certplan.store.ratelimits import RateLimit, RateLimitFileError, RateLimits

NOW = datetime(2026, 11, 27, 13, 4, 30, tzinfo=UTC)


@pytest.mark.parametrize(("header", "expected"), [
    ("3600", NOW + timedelta(hours=1)),
    (" 120 ", NOW + timedelta(minutes=2)),
    ("Fri, 27 Nov 2026 14:05:00 GMT", datetime(2026, 11, 27, 14, 5, tzinfo=UTC)),
    ("Fri, 27 Nov 2026 12:00:00 GMT", NOW),  # already past: ask again now
    (None, NOW + UNSTATED_RATE_LIMIT),
    ("soon", NOW + UNSTATED_RATE_LIMIT),
    ("-5", NOW + UNSTATED_RATE_LIMIT),
    ("99999999999999999999999", NOW + LONGEST_RATE_LIMIT),
    ("Fri, 27 Nov 2099 14:05:00 GMT", NOW + LONGEST_RATE_LIMIT),
])
def test_retry_after_until(header: str | None, expected: datetime) -> None:
    assert retry_after_until(header, NOW) == expected


def test_utc_minute_rounds_up_never_earlier() -> None:
    assert utc_minute(datetime(2026, 11, 27, 14, 5, tzinfo=UTC)) == "2026-11-27 14:05 UTC"
    assert utc_minute(datetime(2026, 11, 27, 14, 5, 1, tzinfo=UTC)) == "2026-11-27 14:06 UTC"
    berlin = datetime(2026, 11, 27, 15, 5, tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin"))
    assert utc_minute(berlin) == "2026-11-27 15:05 UTC"


def test_excerpt_is_one_short_printable_line() -> None:
    page = "<html><head><style>p{color:red}</style><title>Oops</title></head>\n<body>" \
           "<p>Bad\tgateway\x1b[31m</p></body></html>"
    assert excerpt(page, html=True) == "Oops Bad gateway?[31m"
    assert excerpt("a\u202eb") == "a?b"
    long = excerpt("x" * 500)
    assert len(long) == 160 and long.endswith("…")


def test_rate_limit_file_round_trip_0600(tmp_path: Path) -> None:
    book = RateLimits(tmp_path / "ks")
    limit = RateLimit(ca="letsencrypt", directory="https://ca.test/dir",
                      until=NOW + timedelta(hours=1), seen_at=NOW,
                      reason="HTTP 429 Too Many Requests from POST https://ca.test/order")
    path = book.save("ops@example.test", limit)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert book.load("https://ca.test/dir", "ops@example.test") == limit
    assert book.load("https://ca.test/dir", "other@example.test") is None
    assert limit.active(NOW) and not limit.active(NOW + timedelta(hours=1))


def test_rate_limit_file_corrupt_or_a_link_is_named(tmp_path: Path) -> None:
    book = RateLimits(tmp_path / "ks")
    path = book.path("https://ca.test/dir", "")
    path.parent.mkdir(parents=True, mode=0o700)
    os.chmod(tmp_path / "ks", 0o700)
    path.write_text("{not json")
    with pytest.raises(RateLimitFileError, match=rf"rate limit file {path}: not a valid"):
        book.load("https://ca.test/dir", "")
    path.unlink()
    (tmp_path / "elsewhere.json").write_text("{}")
    path.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(RateLimitFileError, match=rf"rate limit file {path}: "):
        book.load("https://ca.test/dir", "")


def test_deadline_scope_is_per_context() -> None:
    assert time_left() is None
    with deadline_scope(100.0):
        assert time_left(lambda: 40.0) == 60.0
        with deadline_scope(None):
            assert time_left() is None
    assert time_left() is None


def get(server: HTTPServer, path: str) -> requests.Response:
    return requests.get(server.url_for(path), timeout=5)


def test_which_answers_are_rate_limits(httpserver: HTTPServer) -> None:
    problem = {"type": "urn:ietf:params:acme:error:rateLimited", "detail": "slow down"}
    httpserver.expect_request("/429").respond_with_json(problem, status=429,
                                                        headers={"Retry-After": "60"})
    httpserver.expect_request("/429-bare").respond_with_data("busy", status=429)
    httpserver.expect_request("/403-limited").respond_with_json(problem, status=403)
    httpserver.expect_request("/503-ra").respond_with_data("down", status=503,
                                                           headers={"Retry-After": "30"})
    httpserver.expect_request("/503").respond_with_data("down", status=503)
    httpserver.expect_request("/200").respond_with_json({}, headers={"Retry-After": "5"})

    hit = rate_limit_of(get(httpserver, "/429"))
    assert hit is not None and hit.retry_after == "60"
    assert hit.reason() == (f"HTTP 429 TOO MANY REQUESTS from GET {httpserver.url_for('/429')}"
                            ": rateLimited: slow down")
    bare = rate_limit_of(get(httpserver, "/429-bare"))
    assert bare is not None and bare.retry_after is None and bare.reason().endswith(': "busy"')
    assert rate_limit_of(get(httpserver, "/403-limited")) is not None
    assert rate_limit_of(get(httpserver, "/503-ra")) is not None
    assert rate_limit_of(get(httpserver, "/503")) is None  # an error, not "come back at"
    assert rate_limit_of(get(httpserver, "/200")) is None  # polling's Retry-After


def test_check_response_never_shows_a_response_repr(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/empty").respond_with_data("", status=502)
    with pytest.raises(HttpFailure) as caught:
        RetryingNetwork._check_response(get(httpserver, "/empty"))
    assert str(caught.value) == (f"HTTP 502 BAD GATEWAY from GET {httpserver.url_for('/empty')}"
                                 " (text/plain, empty body)")
