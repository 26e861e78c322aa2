"""apply's progress lines and summary, with an injected clock, and the CA request hook."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import requests
from pytest_httpserver import HTTPServer

from certplan.cli.progress import Progress, choose_mode, short, summary
from certplan.core.plan import Action
from certplan.engine.apply import Outcome
from certplan.model.trace import trace, trace_scope

T0 = datetime(2026, 11, 27, 8, 41, 3, 250000, tzinfo=UTC)


def clock_from(start: datetime) -> Callable[[], datetime]:
    ticks = iter(start + timedelta(seconds=i) for i in range(1000))
    return lambda: next(ticks)


def test_mode_follows_the_options_and_the_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert choose_mode("text", False, Tty()) == "live"
    assert choose_mode("text", False, io.StringIO()) == "text"
    assert choose_mode("json", False, Tty()) == "json"
    assert choose_mode("text", True, Tty()) == "quiet"


def test_text_lines_carry_rfc3339_utc_and_the_longest_name_wins() -> None:
    out = io.StringIO()
    progress = Progress(["web", "web-2"], "text", stream=out, clock=clock_from(T0))
    with progress:
        progress.log("web-2: ordering web-2.example from CA pebble")
        progress.log("CA pebble: connecting to https://ca/dir")
        progress.trace("web: ACME POST https://ca/order -> 201")  # not verbose: dropped
        progress.log("web: evil \x1b[2J name")
    assert out.getvalue().splitlines() == [
        "2026-11-27T08:41:03Z web-2: ordering web-2.example from CA pebble",
        "2026-11-27T08:41:04Z CA pebble: connecting to https://ca/dir",
        "2026-11-27T08:41:05Z web: evil \\x1b[2J name",
    ]


def test_json_lines_and_results() -> None:
    out = io.StringIO()
    progress = Progress(["web", "web-2"], "json", verbose=True, stream=out,
                        clock=clock_from(T0))
    progress.log("web-2: ordering")
    progress.trace("web: ACME HEAD https://ca/nonce -> 200")
    progress.results([Outcome("web", Action.RENEW, False, "CA said no", "serial 1 stays")])
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [
        {"time": "2026-11-27T08:41:03Z", "level": "info", "certificate": "web-2",
         "message": "ordering"},
        {"time": "2026-11-27T08:41:04Z", "level": "debug", "certificate": "web",
         "message": "ACME HEAD https://ca/nonce -> 200"},
        {"time": "2026-11-27T08:41:05Z", "level": "error", "certificate": "web",
         "event": "result", "action": "renew", "ok": False, "detail": "CA said no",
         "left": "serial 1 stays"},
    ]


def test_quiet_prints_nothing_and_summary_only_failures() -> None:
    out = io.StringIO()
    with Progress(["web"], "quiet", stream=out) as progress:
        progress.log("web: ordering")
    assert out.getvalue() == ""
    printed: list[str] = []
    ok = [Outcome("web", Action.ISSUE, True, "serial 1, expires 2027-01-01")]
    assert summary(ok, True, printed.append) is False and printed == []
    long = "install[0] failed: check command exited 1: " + "y" * 400
    failed = ok + [Outcome("api", Action.RENEW, False, long, "serial 2 stays installed")]
    assert summary(failed, True, printed.append) is True
    text = "\n".join(printed)
    assert text.count(long) == 1 and "serial 2 stays installed" in text
    assert "certificate" not in text  # no table
    printed.clear()
    assert summary(failed, False, printed.append) is True
    text = "\n".join(printed)
    assert text.count(long) == 1  # in full once, below the table
    row = next(line for line in text.splitlines() if line.startswith("api"))
    assert row.rstrip().endswith("… (see below)") and len(row) < 110


def test_short_cuts_at_the_first_line_and_width() -> None:
    assert short("a\nb") == "a"
    assert short("x" * 100, 10) == "x" * 9 + "…"
    assert short("") == ""


def test_the_ca_request_hook_reports_method_url_status_and_problem_type(
        httpserver: HTTPServer) -> None:
    from certplan.ca.network import RequestEvent

    httpserver.expect_request("/new-order").respond_with_json(
        {"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many"}, status=429,
        content_type="application/problem+json")
    response = requests.post(httpserver.url_for("/new-order"), data=b'{"protected":"x"}',
                             timeout=5)
    event = RequestEvent.of(response)
    assert event.line() == (f"ACME POST {httpserver.url_for('/new-order')} -> 429 "
                            "urn:ietf:params:acme:error:rateLimited")
    assert "protected" not in event.line() and "too many" not in event.line()


def test_trace_goes_to_the_sink_of_this_thread_only() -> None:
    seen: list[str] = []
    other: list[str] = []
    with trace_scope(seen.append):
        trace("one")
        thread = threading.Thread(target=lambda: (trace("lost"), other.append("ran")))
        thread.start()
        thread.join()
    trace("after")
    assert seen == ["one"] and other == ["ran"]
