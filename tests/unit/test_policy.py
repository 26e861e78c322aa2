"""Renewal schedule rules as pure functions of the certificate's dates (no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certplan.core.policy import ari_pick, day, moment, schedule
from certplan.model.observed import AriWindow

T0 = datetime(2026, 1, 1, tzinfo=UTC)
D = timedelta(days=1)


@pytest.mark.parametrize("lifetime,before,ari,renew_at,basis", [
    (90 * D, None, None, T0 + 60 * D, "lifetime"),
    (90 * D, 30, None, T0 + 60 * D, "renew_before_days"),
    (90 * D, 7, None, T0 + 83 * D, "renew_before_days"),
    (90 * D, 90, None, T0 + 45 * D, "renew_before_days"),  # >= lifetime: half
    (90 * D, 365, None, T0 + 45 * D, "renew_before_days"),
    (10 * D, None, None, T0 + 5 * D, "lifetime"),  # <= 10 days: half
    (10 * D + timedelta(seconds=1), None, None, T0 + (10 * D + timedelta(seconds=1)) * 2 / 3,
     "lifetime"),
    (6 * D, None, None, T0 + 3 * D, "lifetime"),
    (timedelta(hours=6), None, None, T0 + timedelta(hours=3), "lifetime"),
    (90 * D, 30, AriWindow(T0 + 10 * D, T0 + 10 * D), T0 + 10 * D, "ari"),  # ARI first
], ids=["1/3", "rbd30", "rbd7", "rbd=lifetime", "rbd>lifetime", "10d-half", "10d+1s-third",
        "6d-half", "6h-half", "ari-first"])
def test_schedule(lifetime: timedelta, before: int | None, ari: AriWindow | None,
                  renew_at: datetime, basis: str) -> None:
    sch = schedule("www", "01", T0, T0 + lifetime, before, ari)
    assert (sch.renew_at, sch.basis) == (renew_at, basis)


def test_ari_pick_stays_in_window_and_depends_on_serial() -> None:
    w = AriWindow(T0, T0 + 2 * D)
    a, b = ari_pick(w, "www", "01"), ari_pick(w, "www", "02")
    assert a != b and all(w.start <= x < w.end for x in (a, b))
    assert ari_pick(AriWindow(T0 + D, T0), "www", "01") == T0 + D  # inverted: start


def test_formatting() -> None:
    assert day(T0) == "2026-01-01"
    assert moment(T0 + timedelta(hours=13, minutes=5)) == "2026-01-01 13:05 UTC"


def test_renew_before_days_bounds_the_ari_pick() -> None:
    """The earliest of the rules the user set: ARI wins only when it is earlier."""
    late = AriWindow(T0 + 85 * D, T0 + 87 * D)  # later than not_after - 30 days
    sch = schedule("www", "01", T0, T0 + 90 * D, 30, late, ca="pebble")
    assert (sch.renew_at, sch.basis) == (T0 + 60 * D, "renew_before_days")
    assert sch.detail == ("renew_before_days=30, before the ARI window 2026-03-27 00:00 UTC "
                          ".. 2026-03-29 00:00 UTC")
    assert sch.warning is None
    early = AriWindow(T0 + 40 * D, T0 + 41 * D)
    sch = schedule("www", "01", T0, T0 + 90 * D, 30, early, ca="pebble")
    assert sch.basis == "ari" and T0 + 40 * D <= sch.renew_at <= T0 + 41 * D
    # renew_before_days = 1 with a CA serving ARI: still the earlier of the two
    sch = schedule("www", "01", T0, T0 + 90 * D, 1, early)
    assert sch.basis == "ari"
    assert schedule("www", "01", T0, T0 + 90 * D, None, late).basis == "ari"  # no rule set


@pytest.mark.parametrize("window", [
    AriWindow(T0 + 200 * D, T0 + 201 * D),        # after expiry
    AriWindow(T0 + 89 * D, T0 + 91 * D),          # ends after expiry
], ids=["after-expiry", "ends-after"])
def test_ari_window_past_expiry_is_ignored_with_a_warning(window: AriWindow) -> None:
    sch = schedule("www", "01", T0, T0 + 90 * D, None, window, ca="pebble")
    assert (sch.renew_at, sch.basis) == (T0 + 60 * D, "lifetime")
    assert sch.warning is not None
    assert sch.warning.startswith("www: the ARI window from CA pebble (")
    assert sch.warning.endswith("ends after the certificate expires (2026-04-01 00:00 UTC): "
                                "ignored")
    with_days = schedule("www", "01", T0, T0 + 90 * D, 7, window, ca="pebble")
    assert (with_days.renew_at, with_days.basis) == (T0 + 83 * D, "renew_before_days")


def test_ari_window_in_the_past_means_renew_now() -> None:
    """Even before not_before: a CA's "renew now" (mass revocation), honoured."""
    sch = schedule("www", "01", T0, T0 + 90 * D, 30, AriWindow(T0 - 2 * D, T0 - D))
    assert sch.basis == "ari" and sch.renew_at < T0 and sch.warning is None


def test_short_certificate_with_ari_after_expiry_renews_by_lifetime() -> None:
    """Pebble 2.6, 180-second certificates: the pick lay after expiry."""
    end = T0 + timedelta(seconds=180)
    sch = schedule("www", "01", T0, end, None, AriWindow(end + D, end + 2 * D), ca="pebble")
    assert sch.renew_at == T0 + timedelta(seconds=90) and sch.warning
