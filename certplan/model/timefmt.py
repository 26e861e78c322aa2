"""How certplan writes times, one function per format (no clock is read here).

- `iso`: ISO 8601 as Python writes it, "2026-12-24T13:05:00+00:00"; what
  certplan writes for itself to read back (saved plans, the ARI cache).
- `iso_z`: ISO 8601 with UTC written "Z", "2026-12-24T13:05:00Z"; JSON for
  people and tools (`plan --format json`).
- `minutes`: "2026-12-24 13:05"; the `list` views, where seconds are noise.

Each takes None through as None, so optional fields need no test at each use.
"""

from __future__ import annotations

from datetime import datetime
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
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


@overload
def minutes(value: datetime) -> str: ...
@overload
def minutes(value: None) -> None: ...
def minutes(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else None
