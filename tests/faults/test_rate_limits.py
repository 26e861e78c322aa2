"""Rate limits against a CA that answers newOrder or the directory with 429 / 503 and
Retry-After (seconds and HTTP-date): requests counted, the next run sends none before
the time, plan shows it, --ignore-rate-limit sends again, and after the time (an
injected clock, no sleeping) apply asks again."""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Response

from certplan.ca.polling import utc_minute
from certplan.core.plan import make_plan
from certplan.engine.apply import Applier
from certplan.load import load_project
from certplan.model.observed import Observations
from certplan.store.backends import open_state_backend
from tests.faults.fake_acme import FakeAcme, apply, certplan, write_project

NAMES = [f"c{i:02d}" for i in range(20)]  # the 20 certificates of the report


def limited(ca: FakeAcme, retry_after: str) -> None:
    ca.order = lambda request: ca.problem(
        "rateLimited", "too many new orders recently", 429, **{"Retry-After": retry_after})


def printed_until(text: str) -> datetime:
    found = re.search(r"retry after (\d{4}-\d\d-\d\d \d\d:\d\d) UTC", text)
    assert found, text
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def remembered(root: Path) -> tuple[Path, dict[str, str]]:
    (path,) = (root / ".certplan" / "ratelimits").glob("*.json")
    return path, json.loads(path.read_text())


def test_429_with_seconds_stops_the_run_and_the_next_run_sends_nothing(
        httpserver: HTTPServer, tmp_path: Path) -> None:
    ca = FakeAcme(httpserver)
    limited(ca, "3600")
    root = write_project(tmp_path / "ops", ca.directory_url, NAMES)

    before = datetime.now(UTC)
    first = apply(root)  # --parallel 4
    after = datetime.now(UTC)
    out = first.stdout + first.stderr
    assert first.returncode == 1, out
    # the workers already waiting for their answer may each have sent one; no more
    assert 1 <= ca.requests("/order") <= 4, out
    assert ca.requests("/dir") == 1 and ca.requests("/acct") == 1
    assert (f"rate limited the new order: HTTP 429 TOO MANY REQUESTS from POST "
            f"{httpserver.url_for('/order')}: rateLimited: too many new orders recently; "
            "retry after ") in out
    until = printed_until(out)
    assert before + timedelta(hours=1) <= until <= after + timedelta(hours=1, minutes=1)
    assert "<Response" not in out
    assert "Apply: 0 done, 20 failed." in first.stdout

    path, doc = remembered(root)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert set(doc) == {"ca", "directory", "until", "seen_at", "reason"}
    assert doc["ca"] == "fake" and doc["directory"] == ca.directory_url
    assert "PRIVATE KEY" not in path.read_text()

    sent = ca.requests()
    second = apply(root)
    assert second.returncode == 1
    assert ca.requests() == sent, "a rate limited CA was contacted before the time"
    assert f"CA fake is rate limited until {utc_minute(until)}" in second.stdout
    assert "nothing was sent" in second.stdout and "--ignore-rate-limit" in second.stdout

    plan = certplan(root, "plan", "--no-refresh")
    assert plan.returncode == 0, plan.stderr
    assert (f"Warning: rate limited by fake until {utc_minute(until)} (HTTP 429 TOO MANY "
            "REQUESTS from POST") in plan.stdout
    assert f"apply sends it nothing for {', '.join(NAMES)} until then" in plan.stdout
    later = (until + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "rate limited" not in certplan(root, "plan", "--no-refresh", "--at", later).stdout
    assert ca.requests() == sent

    third = apply(root, "--ignore-rate-limit", "--parallel", "1")
    assert third.returncode == 1
    assert ca.requests("/order") > 0 and ca.requests() > sent
    assert ca.requests("/order") - sum(1 for r, _ in httpserver.log[:sent]
                                       if r.path == "/order") == 1  # then stopped again


def test_429_with_an_http_date_is_remembered_until_that_date(
        httpserver: HTTPServer, tmp_path: Path) -> None:
    ca = FakeAcme(httpserver)
    when = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    limited(ca, format_datetime(when, usegmt=True))
    root = write_project(tmp_path / "ops", ca.directory_url, ["a", "b"])

    first = apply(root, "--parallel", "1")
    assert first.returncode == 1
    assert ca.requests("/order") == 1
    assert f"retry after {utc_minute(when)}" in first.stdout
    _, doc = remembered(root)
    assert datetime.fromisoformat(doc["until"]) == when

    plan = json.loads(certplan(root, "plan", "--no-refresh", "--format", "json").stdout)
    assert any(w.startswith(f"rate limited by fake until {utc_minute(when)}")
               for w in plan["warnings"]), plan["warnings"]


def test_503_with_retry_after_on_the_directory(httpserver: HTTPServer, tmp_path: Path) -> None:
    ca = FakeAcme(httpserver)
    page = "<html><head><title>503</title></head><body><h1>Service Unavailable</h1>" \
           "<p>Back soon: maintenance.</p></body></html>"
    ca.on_directory = lambda request: Response(
        page, status=503, content_type="text/html", headers={"Retry-After": "120"})
    root = write_project(tmp_path / "ops", ca.directory_url, ["a", "b", "c"])

    first = apply(root)
    out = first.stdout + first.stderr
    assert first.returncode == 1
    assert ca.requests() == 1, "one directory request, then nothing"
    assert (f"CA {ca.directory_url} rate limited the directory request: HTTP 503 SERVICE "
            f"UNAVAILABLE from GET {ca.directory_url}: \"503 Service Unavailable Back soon: "
            "maintenance.\"; retry after ") in out
    assert "<Response" not in out and "<html" not in out

    second = apply(root)
    assert second.returncode == 1 and ca.requests() == 1
    assert "CA fake is rate limited until" in second.stdout


def test_after_the_time_apply_asks_again(httpserver: HTTPServer, tmp_path: Path) -> None:
    ca = FakeAcme(httpserver)
    limited(ca, "3600")
    root = write_project(tmp_path / "ops", ca.directory_url, ["a"])
    assert apply(root).returncode == 1
    assert ca.requests("/order") == 1

    def run_at(now: datetime) -> str:
        project = load_project(root)
        store = open_state_backend(project)
        state = store.load()
        plan = make_plan(project.desired, state.records, Observations(), now)
        (outcome,) = Applier(project, state, store=store, log=lambda line: None,
                             clock=lambda: now).run(plan)
        assert not outcome.ok
        return outcome.detail

    _, doc = remembered(root)
    until = datetime.fromisoformat(doc["until"])
    detail = run_at(until - timedelta(seconds=1))
    assert ca.requests("/order") == 1 and "is rate limited until" in detail
    detail = run_at(until + timedelta(seconds=1))
    assert ca.requests("/order") == 2, detail
    assert "rate limited the new order: HTTP 429" in detail
