"""When a certificate is due for renewal. Pure: `now` comes in, nothing is read.

The renewal time is the earliest of the rules the user set: the pick inside the
CA's ARI window (RFC 9773) and `not_after - renew_before_days` when the spec sets
it (an upper bound, ARI or not). With neither, when 1/3 of the lifetime is left
(1/2 for certificates of 10 days or less, whose margin must survive a missed
run). An ARI window that ends after the certificate expires is ignored, with a
warning naming the CA (a window in the past means "renew now" and is honoured).
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
    warning: str | None = None  # e.g. an ARI window that was ignored, and why


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


def _days_rule(not_before: datetime, not_after: datetime,
               renew_before_days: int | None) -> Schedule | None:
    """The spec's `renew_before_days`, when it sets one."""
    if renew_before_days is None:
        return None
    margin = timedelta(days=renew_before_days)
    if margin >= not_after - not_before:
        return Schedule(not_after - (not_after - not_before) / 2, "renew_before_days",
                        f"renew_before_days={renew_before_days} exceeds the lifetime, "
                        f"so at half of it")
    return Schedule(not_after - margin, "renew_before_days",
                    f"renew_before_days={renew_before_days}")


def _lifetime_rule(not_before: datetime, not_after: datetime) -> Schedule:
    lifetime = not_after - not_before
    if lifetime <= SHORT_LIVED:
        return Schedule(not_after - lifetime / 2, "lifetime", "1/2 of a short lifetime left")
    return Schedule(not_after - lifetime / 3, "lifetime", "1/3 of the lifetime left")


def ari_outside(window: AriWindow, not_before: datetime, not_after: datetime) -> bool:
    """A window reaching past the certificate's expiry cannot be meant for it (seen: a
    pick after expiry for 180-second certificates). A window in the past, even before
    `not_before`, is how a CA says "renew now" (RFC 9773 4.2, e.g. after a mass
    revocation): that is honoured, it can only make the renewal earlier."""
    return window.end > not_after


def schedule(name: str, serial: str, not_before: datetime, not_after: datetime,
             renew_before_days: int | None, ari: AriWindow | None,
             ca: str | None = None) -> Schedule:
    """The earliest of the rules the user set: the CA's ARI pick and, when the spec
    sets it, `renew_before_days`; the lifetime rule only when neither applies. An
    ARI window that ends after expiry is ignored with a warning."""
    days = _days_rule(not_before, not_after, renew_before_days)
    warning = None
    if ari is not None and ari_outside(ari, not_before, not_after):
        warning = (f"{name}: the ARI window from CA {ca or '(unknown)'} "
                   f"({moment(ari.start)} .. {moment(ari.end)}) ends after the "
                   f"certificate expires ({moment(not_after)}): ignored")
        ari = None
    if ari is not None:
        at = ari_pick(ari, name, serial)
        window = f"ARI window {moment(ari.start)} .. {moment(ari.end)}"
        if days is not None and days.renew_at < at:
            return Schedule(days.renew_at, days.basis, f"{days.detail}, before the {window}")
        return Schedule(at, "ari", window)
    base = days or _lifetime_rule(not_before, not_after)
    return Schedule(base.renew_at, base.basis, base.detail, warning)
