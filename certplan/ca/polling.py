"""Waiting for the CA: short first interval, back-off, Retry-After, deadline.

Never a fixed sleep: the first poll comes ~10 ms after the request, the
interval grows x1.5 up to 2 s (a CA that takes 2 s to validate sees about a
dozen polls), a Retry-After from the CA is honoured but
never past the caller's deadline (a time.monotonic() value).
"""

from __future__ import annotations

import datetime
import email.utils
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]
Sleep = Callable[[float], None]


def parse_retry_after(value: str | None, now: datetime.datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    now = now or datetime.datetime.now(datetime.UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass
class Poller:
    """One waiting loop: call `wait(retry_after)` between polls.

    `wait` returns False (without sleeping) once the deadline has passed, so
    the loop reads: `while not done: fetch(); if not poller.wait(ra): timeout`.
    """

    deadline: float
    clock: Clock
    sleep: Sleep
    first: float = 0.01
    factor: float = 1.5
    cap: float = 2.0
    _next: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._next = self.first

    def expired(self) -> bool:
        return self.clock() >= self.deadline

    def wait(self, retry_after: float | None = None) -> bool:
        remaining = self.deadline - self.clock()
        if remaining <= 0:
            return False
        delay = self._next if retry_after is None else max(retry_after, 0.0)
        self._next = min(self._next * self.factor, self.cap)
        self.sleep(min(delay, remaining))
        return True


# A rate limit without a usable Retry-After is remembered this long; a longer one
# than LONGEST is cut to it (a CA's own limits run up to a week; a wrong date from a
# CA or proxy must not block renewals for a year). `--ignore-rate-limit` overrides.
UNSTATED_RATE_LIMIT = datetime.timedelta(hours=1)
LONGEST_RATE_LIMIT = datetime.timedelta(days=7)


def retry_after_until(value: str | None, now: datetime.datetime) -> datetime.datetime:
    """When a rate-limited client may ask again: `now` plus Retry-After (seconds or
    HTTP-date), UNSTATED_RATE_LIMIT when absent or unreadable, at most LONGEST_RATE_LIMIT."""
    seconds = parse_retry_after(value, now)
    if seconds is None:
        return now + UNSTATED_RATE_LIMIT
    return now + datetime.timedelta(seconds=min(seconds, LONGEST_RATE_LIMIT.total_seconds()))


def utc_minute(when: datetime.datetime) -> str:
    """'2026-11-27 14:05 UTC', rounded up to the minute (never earlier than `when`)."""
    when = when.astimezone(datetime.UTC)
    if when.second or when.microsecond:
        when = when.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    return when.strftime("%Y-%m-%d %H:%M UTC")
