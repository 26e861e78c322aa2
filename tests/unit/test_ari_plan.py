"""ARI answers from a CA (pytest-httpserver) through to the plan: a window in the past
renews now, an explanationURL is shown in the reason, a failed lookup falls back to
the lifetime rule and says why, and the pick inside a window is stable."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pytest_httpserver import HTTPServer

from certplan.core.plan import Action
from certplan.model.observed import Observations
from certplan.observe.ari import AriLookup, fetch_windows
from tests.unit.test_plan import DAY, NOW, desired, only, plan_of, record


def lookup(server: HTTPServer, answer: Any, status: int = 200,
           headers: dict[str, str] | None = None) -> Observations:
    server.expect_request("/dir").respond_with_json({"renewalInfo": server.url_for("/ari")})
    server.expect_request("/ari/aki.www").respond_with_json(answer, status=status,
                                                           headers=headers or {})
    target = AriLookup(name="www", directory=server.url_for("/dir"), cert_id="aki.www")
    windows, notes = fetch_windows([target], now=NOW)
    return Observations(ari=windows, ari_notes=notes, ari_refreshed=True)


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def test_window_in_the_past_renews_now_with_the_explanation(httpserver: HTTPServer) -> None:
    # a CA that revoked en masse moves the window into the past and explains why
    d = desired()
    obs = lookup(httpserver, {
        "suggestedWindow": {"start": iso(NOW - 2 * DAY), "end": iso(NOW - DAY)},
        "explanationURL": "https://ca.example/incident/42"}, headers={"Retry-After": "3600"})
    action, reason = only(plan_of(d, record(d), obs=obs))
    assert action is Action.RENEW
    assert reason.startswith("renewal window opened 2026-05-30 ")
    assert "(ARI window 2026-05-30 00:00 UTC .. 2026-05-31 00:00 UTC)" in reason
    assert reason.endswith("; CA explains: https://ca.example/incident/42")


def test_future_window_is_the_schedule_and_the_pick_is_stable(httpserver: HTTPServer) -> None:
    d = desired()
    start = NOW + 10 * DAY
    obs = lookup(httpserver, {"suggestedWindow": {"start": iso(start),
                                                  "end": iso(start + 2 * DAY)}})
    first = plan_of(d, record(d), obs=obs).noops[0]
    second = plan_of(d, record(d), obs=obs).noops[0]
    assert first.renew_at == second.renew_at
    assert first.renew_at is not None and start <= first.renew_at <= start + 2 * DAY
    assert "(ARI window 2026-06-11 00:00 UTC .. 2026-06-13 00:00 UTC)" in first.reason
    # the lifetime rule alone (90 days, 30 gone) would wait until day 60: ARI wins
    assert first.renew_at < record(d).certificate.not_after - timedelta(days=30)  # type: ignore
    at_pick = plan_of(d, record(d), now=first.renew_at, obs=obs)
    assert only(at_pick)[0] is Action.RENEW


def test_other_serial_other_pick(httpserver: HTTPServer) -> None:
    d = desired()
    start = NOW + 10 * DAY
    obs = lookup(httpserver, {"suggestedWindow": {"start": iso(start),
                                                  "end": iso(start + 2 * DAY)}})
    picks = {plan_of(d, record(d, certificate=record(d).certificate.model_copy(  # type: ignore
        update={"serial": f"{i:04x}"})), obs=obs).noops[0].renew_at for i in range(20)}
    assert len(picks) == 20  # certificates of one fleet spread over the window


def test_failed_lookup_falls_back_and_says_why(httpserver: HTTPServer) -> None:
    d = desired()
    obs = lookup(httpserver, {"type": "urn:ietf:params:acme:error:malformed"}, status=404)
    action, reason = only(plan_of(d, record(d), obs=obs))
    assert action is Action.NOOP
    assert "(1/3 of the lifetime left)" in reason
    assert reason.endswith("; ARI: renewalInfo answered HTTP 404")


def test_malformed_answer_falls_back_and_says_why(httpserver: HTTPServer) -> None:
    d = desired()
    obs = lookup(httpserver, {"suggestedWindow": {"start": "2026-07-02T00:00:00Z",
                                                  "end": "2026-07-01T00:00:00Z"}})
    action, reason = only(plan_of(d, record(d), obs=obs))
    assert action is Action.NOOP
    assert reason.endswith("; ARI: malformed renewalInfo answer: suggestedWindow ends "
                           "before it starts")


def test_explanation_is_shown_before_the_window_opens_too(httpserver: HTTPServer) -> None:
    d = desired()
    start = NOW + 3 * DAY
    obs = lookup(httpserver, {"suggestedWindow": {"start": iso(start),
                                                  "end": iso(start + DAY)},
                              "explanationURL": "https://ca.example/early-renewal"})
    action, reason = only(plan_of(d, record(d), obs=obs))
    assert action is Action.NOOP
    assert "(ARI window 2026-06-04 00:00 UTC .. 2026-06-05 00:00 UTC)" in reason
    assert reason.endswith("; CA explains: https://ca.example/early-renewal")


def test_window_after_expiry_is_ignored_with_a_warning_naming_the_ca(
        httpserver: HTTPServer) -> None:
    d = desired()
    after = record(d).certificate.not_after + DAY  # type: ignore[union-attr]
    obs = lookup(httpserver, {"suggestedWindow": {"start": iso(after),
                                                  "end": iso(after + DAY)}})
    result = plan_of(d, record(d), obs=obs)
    assert "(1/3 of the lifetime left)" in result.noops[0].reason
    [warning] = [w for w in result.warnings if "ARI window" in w]
    assert warning.startswith(f"www: the ARI window from CA {record(d).ca} (")
    assert warning.endswith(": ignored")


def test_renew_before_days_is_an_upper_bound_with_ari(httpserver: HTTPServer) -> None:
    d = desired(renew_before_days=80)  # not_after - 80 days: due now or soon
    start = NOW + 20 * DAY
    obs = lookup(httpserver, {"suggestedWindow": {"start": iso(start),
                                                  "end": iso(start + DAY)}})
    change = plan_of(d, record(d), obs=obs).changes[0]
    assert change.action is Action.RENEW
    assert "(renew_before_days=80, before the ARI window " in change.reason
