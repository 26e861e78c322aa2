"""The three ways certplan writes a time (certplan.model.timefmt)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from certplan.model.timefmt import iso, iso_z, minutes

T = datetime(2026, 12, 24, 13, 5, 7, tzinfo=UTC)


def test_each_format() -> None:
    assert iso(T) == "2026-12-24T13:05:07+00:00"
    assert iso_z(T) == "2026-12-24T13:05:07Z"
    assert minutes(T) == "2026-12-24 13:05"


def test_none_stays_none() -> None:
    assert iso(None) is None and iso_z(None) is None and minutes(None) is None


def test_iso_round_trips_and_iso_z_is_rfc3339_utc_in_whole_seconds() -> None:
    assert datetime.fromisoformat(iso(T)) == T
    assert datetime.fromisoformat(iso_z(T)) == T
    plus_two = T.astimezone(timezone(timedelta(hours=2)))
    assert iso_z(plus_two) == "2026-12-24T13:05:07Z"
    assert iso_z(T.replace(microsecond=123456)) == "2026-12-24T13:05:07Z"
