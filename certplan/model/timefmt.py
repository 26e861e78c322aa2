"""How certplan writes times, one function per format (no clock is read here).

- `iso`: ISO 8601 as Python writes it, "2026-12-24T13:05:00+00:00"; what
  certplan writes for itself to read back (saved plans, the ARI cache).
- `iso_z`: RFC 3339 in UTC written "Z", whole seconds, "2026-12-24T13:05:00Z";
  JSON for people and tools (`plan`, `list`, `show`, `check` with `--format json`).
- `minutes`: "2026-12-24 13:05"; the `list` views, where seconds are noise.

Each takes None through as None, so optional fields need no test at each use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def iso(value: datetime) -> str: ...
@overload
def iso(value: None) -> None: ...
def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@overload
def iso_z(value: datetime) -> str: ...
@overload
def iso_z(value: None) -> None: ...
def iso_z(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


@overload
def minutes(value: datetime) -> str: ...
@overload
def minutes(value: None) -> None: ...
def minutes(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else None


def parse_utc(text: object) -> datetime:
    """A recorded ISO 8601 time that names its zone, in UTC (ValueError otherwise)."""
    when = datetime.fromisoformat(str(text))
    if when.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    return when.astimezone(UTC)
