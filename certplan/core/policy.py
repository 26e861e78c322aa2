"""When a certificate is due for renewal. Pure: `now` comes in, nothing is read.

Order of rules: an ARI window from the CA (RFC 9773) first; else the spec's
`renew_before_days`; else when 1/3 of the lifetime is left (1/2 for
certificates of 10 days or less, whose margin must survive a missed run).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from certplan.model.observed import AriWindow

SHORT_LIVED = timedelta(days=10)


@dataclass(frozen=True)
class Schedule:
    renew_at: datetime
    basis: str  # "ari", "renew_before_days", "lifetime"
    detail: str  # human text, e.g. "ARI window 2026-12-01 .. 2026-12-03"


def day(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d")


def moment(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC")


def ari_pick(window: AriWindow, name: str, serial: str) -> datetime:
    """A deterministic time inside the window: the same plan twice agrees, and
    certificates of one fleet spread over the window instead of renewing at once."""
    if window.end <= window.start:
        return window.start
    digest = hashlib.sha256(f"{name}/{serial}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return window.start + (window.end - window.start) * fraction


def schedule(name: str, serial: str, not_before: datetime, not_after: datetime,
             renew_before_days: int | None, ari: AriWindow | None) -> Schedule:
    if ari is not None:
        at = ari_pick(ari, name, serial)
        return Schedule(at, "ari", f"ARI window {moment(ari.start)} .. {moment(ari.end)}")
    lifetime = not_after - not_before
    if renew_before_days is not None:
        margin = timedelta(days=renew_before_days)
        if margin >= lifetime:
            margin = lifetime / 2
            return Schedule(not_after - margin, "renew_before_days",
                            f"renew_before_days={renew_before_days} exceeds the "
                            f"lifetime, so at half of it")
        return Schedule(not_after - margin, "renew_before_days",
                        f"renew_before_days={renew_before_days}")
    if lifetime <= SHORT_LIVED:
        return Schedule(not_after - lifetime / 2, "lifetime", "1/2 of a short lifetime left")
    return Schedule(not_after - lifetime / 3, "lifetime", "1/3 of the lifetime left")
