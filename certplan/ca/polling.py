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
