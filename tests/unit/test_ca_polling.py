"""Poller and Retry-After parsing with a fake clock (no real sleeping)."""

from __future__ import annotations

import datetime

import pytest

from certplan.ca.polling import Poller, parse_retry_after


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 4))
        self.now += seconds


def test_backoff_starts_short_grows_and_caps() -> None:
    t = FakeTime()
    poller = Poller(deadline=t.now + 60, clock=t.clock, sleep=t.sleep)
    for _ in range(16):
        assert poller.wait()
    assert t.sleeps[:4] == [0.01, 0.015, 0.0225, 0.0338]
    assert max(t.sleeps) == 2.0 and t.sleeps[-1] == 2.0


def test_retry_after_is_honoured_but_capped_by_deadline() -> None:
    t = FakeTime()
    poller = Poller(deadline=t.now + 5, clock=t.clock, sleep=t.sleep)
    assert poller.wait(retry_after=3)
    assert poller.wait(retry_after=3)   # only 2 s left
    assert not poller.wait()            # deadline reached: no sleep, False
    assert t.sleeps == [3, 2]


def test_past_deadline_returns_false_without_sleeping() -> None:
    t = FakeTime()
    poller = Poller(deadline=t.now - 1, clock=t.clock, sleep=t.sleep)
    assert poller.expired()
    assert not poller.wait()
    assert t.sleeps == []


@pytest.mark.parametrize(("header", "seconds"), [
    ("120", 120.0), (" 7 ", 7.0), ("0", 0.0),
    ("Thu, 01 Jan 2026 00:00:30 GMT", 30.0),
    ("Wed, 31 Dec 2025 23:59:00 GMT", 0.0),  # in the past: poll now
    (None, None), ("", None), ("soon", None), ("-5", None),
])
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    assert parse_retry_after(header, now) == seconds
