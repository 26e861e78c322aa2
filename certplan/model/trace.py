"""Verbose tracing: the requests certplan sends (to the CA, to DNS servers) for `apply -v`.

A sink is set per certificate with `trace_scope` (a context variable, so that each
worker thread reports to its own certificate); code that sends a request calls
`trace(text)`, which costs nothing while no sink is set. What is traced is public:
method, URL, status and problem type of an ACME request; name, type, server and
answer code of a DNS query. Never a JWS payload, a key, a token or a credential.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

Sink = Callable[[str], None]

_SINK: ContextVar[Sink | None] = ContextVar("certplan_trace_sink", default=None)


@contextlib.contextmanager
def trace_scope(sink: Sink | None) -> Iterator[None]:
    """Inside the block (and in this thread), `trace(text)` calls `sink(text)`."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


def tracing() -> bool:
    return _SINK.get() is not None


def trace(text: str) -> None:
    sink = _SINK.get()
    if sink is not None:
        sink(text)
