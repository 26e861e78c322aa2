"""Renewal windows kept until the CA's Retry-After has passed (RFC 9773 section 4.3.2).

The CA says when to ask again: an hourly `apply` should not fetch a window the CA
said is good for six hours. The cache lives in the keystore folder (not in git:
`plan` in CI has none and simply fetches), holds public data only, and is an
optimisation: a missing, unreadable or corrupt cache means "fetch".
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from certplan.model.observed import AriWindow
from certplan.model.timefmt import iso
from certplan.store.atomic import atomic_write
from certplan.store.safefs import read_regular

CACHE_FILE = "ari-cache.json"
# RFC 9773 4.3.2: clients clamp Retry-After to sane bounds (the RFC's example: one
# minute to one day); with no usable Retry-After they ask again after six hours.
MIN_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(days=1)
DEFAULT_RETRY = timedelta(hours=6)


def next_fetch(fetched_at: datetime, retry_after: int | None) -> datetime:
    if retry_after is None:
        return fetched_at + DEFAULT_RETRY
    delay = timedelta(seconds=retry_after)
    return fetched_at + min(MAX_RETRY, max(MIN_RETRY, delay))


class AriCache:
    """directory + certificate ID -> the last window and when to ask again."""

    def __init__(self, path: Path | None, entries: dict[str, dict[str, Any]] | None = None):
        self.path = path
        self.entries = dict(entries or {})
        self._touched: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | None) -> AriCache:
        if path is None:
            return cls(None)
        try:
            data = json.loads(read_regular(path))  # bounded: never a FIFO, link or huge file
            entries = data["entries"] if isinstance(data, dict) else {}
            return cls(path, entries if isinstance(entries, dict) else {})
        except (OSError, ValueError, KeyError):
            return cls(path)

    @staticmethod
    def key(directory: str, cert_id: str) -> str:
        return f"{directory} {cert_id}"

    def _window(self, key: str) -> tuple[AriWindow, datetime] | None:
        entry = self.entries.get(key)
        if not isinstance(entry, dict):
            return None
        try:
            window = AriWindow(start=datetime.fromisoformat(entry["start"]),
                               end=datetime.fromisoformat(entry["end"]),
                               explanation_url=entry.get("explanation_url"),
                               retry_after=entry.get("retry_after"))
            return window, datetime.fromisoformat(entry["next_fetch"])
        except (KeyError, TypeError, ValueError):
            return None

    def fresh(self, key: str, now: datetime) -> AriWindow | None:
        """The cached window while the CA's Retry-After has not passed."""
        found = self._window(key)
        if found is None or now >= found[1]:
            return None
        with self._lock:
            self._touched.add(key)
        return found[0]

    def stale(self, key: str) -> AriWindow | None:
        """The last window seen, however old (used when a refresh fails)."""
        found = self._window(key)
        if found is not None:
            with self._lock:
                self._touched.add(key)
        return found[0] if found else None

    def put(self, key: str, window: AriWindow, now: datetime) -> None:
        entry = {"start": iso(window.start), "end": iso(window.end),
                 "explanation_url": window.explanation_url, "retry_after": window.retry_after,
                 "fetched_at": iso(now), "next_fetch": iso(next_fetch(now, window.retry_after))}
        with self._lock:
            self.entries[key] = entry
            self._touched.add(key)

    def save(self) -> None:
        """Write back the entries used in this run; only where the keystore folder
        already exists (no folder is created by planning)."""
        if self.path is None or not self.path.parent.is_dir():
            return
        kept = {k: v for k, v in sorted(self.entries.items()) if k in self._touched}
        data = json.dumps({"entries": kept}, indent=2, sort_keys=True) + "\n"
        try:
            atomic_write(self.path, data.encode("utf-8"), 0o644)
        except OSError:
            pass  # an optimisation only: the next run fetches again
