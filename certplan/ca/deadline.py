"""The time limit of one certificate, seen by every request made for it.

`apply --timeout` is a deadline for everything one certificate does. The engine
opens `deadline_scope(deadline)` (a time.monotonic() value) around the work of one
certificate; the network reads `time_left()` before each request and sets that
request's connect and read timeouts from it. A context variable, so that worker
threads sharing one ACME session each see their own certificate's deadline.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar

_DEADLINE: ContextVar[float | None] = ContextVar("certplan_ca_deadline", default=None)


@contextlib.contextmanager
def deadline_scope(deadline: float | None) -> Iterator[None]:
    """Requests made inside the block end by `deadline` (time.monotonic() based);
    None: no deadline (each request keeps the network's own timeout)."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left(clock: Callable[[], float] = time.monotonic) -> float | None:
    """Seconds left before the current deadline (may be <= 0), or None without one."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - clock()
