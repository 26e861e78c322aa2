"""What earlier applies on this host did, in the keystore folder (no secret in it):

    <keystore>/runs.json     0600, written atomically

It holds the last apply (when, how long, counts by action and result), per
certificate the last success, the last failure and the failures in a row, and
when the "expires soon and renewal keeps failing" reminder was last sent.

The keystore, not the state: the state is committed to git, and a counter that
changes on every run would make a commit (and a merge conflict between hosts) of
every failed cron run; these are facts about this host's runs, like the
remembered rate limits beside them (store.ratelimits).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from certplan.model.errors import CertplanError
from certplan.model.timefmt import parse_utc
from certplan.store.atomic import atomic_write
from certplan.store.safefs import check_own_folder, os_reason, read_regular

FILE = "runs.json"
MODE = 0o600


class RunLogError(CertplanError):
    """The run history cannot be read or written."""


@dataclass
class CertRuns:
    last_success: datetime | None = None
    last_failure: datetime | None = None
    consecutive_failures: int = 0
    reminded: datetime | None = None  # last "expires soon, renewal keeps failing"


@dataclass
class LastApply:
    started: datetime
    duration: float
    counts: dict[str, int]  # "<action>/<ok|failed>" -> certificates
    ok: bool


@dataclass
class RunLog:
    last_apply: LastApply | None = None
    last_good_apply: datetime | None = None
    certs: dict[str, CertRuns] = field(default_factory=dict)

    def cert(self, name: str) -> CertRuns:
        return self.certs.setdefault(name, CertRuns())

    def to_json(self) -> str:
        doc: dict[str, Any] = {"certificates": {
            name: {"last_success": _iso(c.last_success), "last_failure": _iso(c.last_failure),
                   "consecutive_failures": c.consecutive_failures, "reminded": _iso(c.reminded)}
            for name, c in sorted(self.certs.items())},
            "last_good_apply": _iso(self.last_good_apply)}
        if self.last_apply is not None:
            a = self.last_apply
            doc["last_apply"] = {"started": _iso(a.started), "duration": a.duration,
                                 "counts": dict(sorted(a.counts.items())), "ok": a.ok}
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, data: bytes) -> RunLog:
        doc = json.loads(data)
        log = cls(last_good_apply=_time(doc.get("last_good_apply")))
        for name, c in dict(doc.get("certificates") or {}).items():
            log.certs[str(name)] = CertRuns(_time(c.get("last_success")),
                                            _time(c.get("last_failure")),
                                            int(c.get("consecutive_failures") or 0),
                                            _time(c.get("reminded")))
        a = doc.get("last_apply")
        if a:
            log.last_apply = LastApply(parse_utc(a.get("started")), float(a["duration"]),
                                       {str(k): int(v) for k, v in dict(a["counts"]).items()},
                                       bool(a["ok"]))
        return log


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat() if when is not None else None


def _time(text: object) -> datetime | None:
    return None if text is None else parse_utc(text)


def runlog_path(keystore_root: Path) -> Path:
    return Path(keystore_root) / FILE


def load_runlog(keystore_root: Path) -> RunLog:
    """The history, empty when there is none yet (or no keystore); RunLogError when the
    file is there but a link, not ours, or damaged."""
    path = runlog_path(keystore_root)
    try:
        check_own_folder(Path(keystore_root), "keystore")
        data = read_regular(path, limit=4 * 1024 * 1024)
    except FileNotFoundError:
        return RunLog()
    except OSError as exc:
        raise RunLogError(f"run history {path}: {os_reason(exc)}") from None
    try:
        return RunLog.from_json(data)
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError,
            RecursionError) as exc:  # Infinity, a year 0 in UTC, deep nesting
        raise RunLogError(f"run history {path}: not a valid record ({exc}); delete it to "
                          f"start a new one") from None


def save_runlog(keystore_root: Path, log: RunLog) -> None:
    path = runlog_path(keystore_root)
    try:
        check_own_folder(Path(keystore_root), "keystore")
        atomic_write(path, log.to_json().encode(), MODE)
    except OSError as exc:
        raise RunLogError(f"cannot write the run history {path}: {os_reason(exc)}") from None


