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
