"""The events of one apply, and the one summary every target gets.

Built from the apply's outcomes, the state records after it and the run history
(store.runlog); nothing here sends anything or reads a clock: `now` comes in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from certplan.core.escape import plain
from certplan.core.plan import Action
from certplan.engine.apply import Outcome
from certplan.model.notify import EVENTS
from certplan.model.records import CertRecord
from certplan.store.runlog import RunLog

REMIND_EVERY = timedelta(days=1)
MAX_DETAIL = 2000  # one event's text; the full error is in the apply's own output

KIND_OF = {Action.ISSUE: "issued", Action.RENEW: "renewed", Action.INSTALL: "installed",
           Action.REMOVE: "removed"}


@dataclass(frozen=True)
class Event:
    kind: str  # one of model.notify.EVENTS
    certificate: str
    detail: str
    action: str | None = None
    left: str = ""  # what a failure left in place
    expires: datetime | None = None
    failures: int | None = None  # failures in a row ("expiring")
    retry_after: datetime | None = None  # "rate_limited"

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"event": self.kind, "certificate": self.certificate,
                               "detail": self.detail}
        if self.action is not None:
            doc["action"] = self.action
        if self.left:
            doc["left"] = self.left
        if self.expires is not None:
            doc["expires"] = _rfc3339(self.expires)
        if self.failures is not None:
            doc["consecutive_failures"] = self.failures
        if self.retry_after is not None:
            doc["retry_after"] = _rfc3339(self.retry_after)
        return doc

    def line(self) -> str:
        if self.kind in ("failed", "rate_limited"):
            text = f"{self.certificate} FAILED ({self.action}): {self.detail}"
            if self.kind == "rate_limited":
                text = f"{self.certificate} RATE LIMITED ({self.action}): {self.detail}"
            return text + (f" | left in place: {self.left}" if self.left else "")
        if self.kind == "expiring":
            return f"{self.certificate}: {self.detail}"
        return f"{self.certificate} {self.kind}: {self.detail}"


def _rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _short(text: str) -> str:
    text = plain(text, newlines=True)
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "..."


def skipped(o: Outcome) -> bool:
    """Another runner (shared state) had the certificate: nothing was done here."""
    return o.ok and o.detail.startswith("skipped: ")


def outcome_events(outcomes: Iterable[Outcome],
                   limited: Callable[[str], datetime | None]) -> list[Event]:
    """One event per outcome. A failure whose CA has an active rate limit recorded in
    the keystore (`limited(name)` gives its end) is "rate_limited": evidence on the
    host, not words in a message."""
    out = []
    for o in outcomes:
        if o.action is Action.NOOP or skipped(o):
            continue
        if o.ok:
            out.append(Event(KIND_OF[o.action], o.name, _short(o.detail), o.action.value))
            continue
        until = limited(o.name) if o.action in (Action.ISSUE, Action.RENEW) else None
        out.append(Event("rate_limited" if until else "failed", o.name, _short(o.detail),
                         o.action.value, left=_short(o.left), retry_after=until))
    return out


def expiring_events(records: Mapping[str, CertRecord], runs: RunLog, remind_days: int,
                    now: datetime) -> list[Event]:
    """"Expires in N days and renewal keeps failing": a certificate within
    `remind_days` of expiry whose last attempt failed, at most once a day each."""
    out = []
    for name, rec in sorted(records.items()):
        cert, history = rec.certificate, runs.certs.get(name)
        if cert is None or history is None or history.consecutive_failures < 1:
            continue
        left = cert.not_after - now
        if left > timedelta(days=remind_days):
            continue
        if history.reminded is not None and now - history.reminded < REMIND_EVERY:
            continue
        when = "expired" if left <= timedelta(0) else \
            f"expires in {left.days} day(s) ({_rfc3339(cert.not_after)})"
        out.append(Event("expiring", name,
                         f"serial {cert.serial} {when} and renewal keeps failing "
                         f"({history.consecutive_failures} failed attempt(s) in a row)",
                         expires=cert.not_after, failures=history.consecutive_failures))
    return out


def summary(events: list[Event], host: str, project: str, now: datetime) -> dict[str, Any]:
    """The one payload of an apply: a Slack/Mattermost-compatible `text` and the
    structured events."""
    counts = {kind: sum(1 for e in events if e.kind == kind) for kind in EVENTS}
    said = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items() if n)
    text = "\n".join([f"certplan on {host}: {said}"] + [f"- {e.line()}" for e in events])
    return {"text": text, "source": "certplan", "host": host, "project": project,
            "time": _rfc3339(now), "counts": counts, "events": [e.to_json() for e in events]}


def subject(payload: dict[str, Any]) -> str:
    return str(payload["text"]).splitlines()[0]
