"""Send one summary to every target that wants some of its events.

Bounded: each target has a timeout per attempt and at most `retries` more
attempts, with short pauses in between. A failure is logged (target by position
and type, never its URL or credentials) and never raised: a notification that
does not go out must not fail the apply.
"""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Callable
from typing import Any

from certplan.model.errors import SecretError
from certplan.model.notify import NotifySettings
from certplan.model.secrets import scrub
from certplan.ops.notify.events import Event, summary
from certplan.ops.notify.senders import SENDERS, Permanent

Log = Callable[[str], None]
PAUSE = 0.5  # seconds before the first retry, doubled for each next one


def secrets_of(target: Any) -> list[str]:
    """Every resolvable secret value of a target, to scrub from what is logged."""
    refs = [getattr(target, name, None) for name in ("url", "user", "password")]
    refs += list(getattr(target, "urls", []) or [])
    out = []
    for ref in refs:
        if ref is None:
            continue
        try:
            out.append(ref.resolve())
        except SecretError:
            continue
    return [s for s in out if s]


def dispatch(settings: NotifySettings, events: list[Event], host: str, project: str,
             now: Any, log: Log, sleep: Callable[[float], None] = time.sleep) -> set[str]:
    """Send each target the events it wants (one message); the kinds of event that
    reached at least one target."""
    delivered: set[str] = set()
    for i, target in enumerate(settings.target):
        wanted = [e for e in events if e.kind in target.events]
        if not wanted:
            continue
        name = f"notify.target[{i}] ({target.type})"
        payload = summary(wanted, host, project, now)
        if _send(target, payload, name, log, sleep):
            delivered |= {e.kind for e in wanted}
    return delivered


def _send(target: Any, payload: dict[str, Any], name: str, log: Log,
          sleep: Callable[[float], None]) -> bool:
    attempts = 1 + int(getattr(target, "retries", 0))
    for attempt in range(1, attempts + 1):
        try:
            SENDERS[target.type](target, payload)
            return True
        except SecretError as exc:
            log(f"Warning: {name}: not sent: {exc}")
            return False
        except Permanent as exc:
            log(f"Warning: {name}: not sent: {scrub(str(exc), secrets_of(target))}")
            return False
        except Exception as exc:  # network, timeouts, a server's 5xx: try again
            why = scrub(_why(exc), secrets_of(target))
            if attempt == attempts:
                log(f"Warning: {name}: not sent after {attempts} attempt(s): {why}")
                return False
            log(f"{name}: attempt {attempt} failed ({why}); trying again")
            sleep(PAUSE * 2 ** (attempt - 1))
    return False


def _why(exc: Exception) -> str:
    if isinstance(exc, urllib.error.URLError):  # wraps the socket's error
        exc = exc.reason if isinstance(exc.reason, Exception) else OSError(str(exc.reason))
    if isinstance(exc, TimeoutError):
        return "no answer in time (timed out)"
    return str(exc) or type(exc).__name__
