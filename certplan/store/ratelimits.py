"""Rate limits remembered between runs, per ACME account, in the keystore.

    <keystore>/ratelimits/<account id>.json     0600, in a 0700 folder

`<account id>` is the keystore's id of the account's (directory, email), so the
file sits with the account it binds. It holds when the CA may be asked again and
the CA's own words (status, URL, problem type and detail): no key, no secret. The
keystore, not the state: a rate limit binds the account whose key lives on this
host, and the state is in git, where a pull request's plan in CI has no account and
sends no order. So `plan` shows the limit where the keystore is (the host that
applies), and CI's plan shows none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from certplan.model.errors import CertplanError
from certplan.model.timefmt import parse_utc
from certplan.store.atomic import atomic_write, ensure_private_dir
from certplan.store.keystore import Keystore
from certplan.store.safefs import check_own_folder, os_reason, read_regular

FOLDER = "ratelimits"
MODE = 0o600
MAX_REASON = 600


class RateLimitFileError(CertplanError):
    """A remembered rate limit cannot be read or written."""


@dataclass(frozen=True)
class RateLimit:
    """The CA `ca` (at `directory`) asked this account to wait until `until`."""

    ca: str
    directory: str
    until: datetime
    seen_at: datetime
    reason: str  # "HTTP 429 Too Many Requests from POST URL: rateLimited: detail"

    def active(self, now: datetime) -> bool:
        return now < self.until

    def to_json(self) -> str:
        return json.dumps({"ca": self.ca, "directory": self.directory,
                           "until": self.until.isoformat(), "seen_at": self.seen_at.isoformat(),
                           "reason": self.reason[:MAX_REASON]}, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, data: bytes) -> RateLimit:
        doc = json.loads(data)
        return cls(ca=str(doc["ca"]), directory=str(doc["directory"]),
                   until=parse_utc(doc["until"]), seen_at=parse_utc(doc["seen_at"]),
                   reason=str(doc.get("reason") or "")[:MAX_REASON])


class RateLimits:
    """Read and write remembered rate limits under a keystore root."""

    def __init__(self, keystore_root: Path | str):
        self.root = Path(keystore_root)
        self.folder = self.root / FOLDER

    def path(self, directory: str, email: str) -> Path:
        return self.folder / f"{Keystore.account_id(directory, email)}.json"

    def load(self, directory: str, email: str) -> RateLimit | None:
        """The remembered limit for this account (also one that has passed), or None.
        RateLimitFileError when the file is there but unreadable, a link, or not ours."""
        path = self.path(directory, email)
        try:
            check_own_folder(self.root, "keystore")
            check_own_folder(self.folder, "rate limit folder")
            data = read_regular(path, limit=64 * 1024)
        except FileNotFoundError:
            return None
        except OSError as exc:  # UnsafePath included
            raise RateLimitFileError(f"rate limit file {path}: {os_reason(exc)}") from None
        try:
            return RateLimit.from_json(data)
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
            raise RateLimitFileError(f"rate limit file {path}: not a valid record ({exc})") \
                from None

    def save(self, email: str, limit: RateLimit) -> Path:
        """Write atomically (0600 from the start); RateLimitFileError on failure."""
        path = self.path(limit.directory, email)
        try:
            check_own_folder(self.root, "keystore")
            ensure_private_dir(self.folder)
            check_own_folder(self.folder, "rate limit folder")
            atomic_write(path, limit.to_json().encode(), MODE)
        except OSError as exc:
            raise RateLimitFileError(f"cannot record the rate limit in {path}: {os_reason(exc)}") \
                from None
        return path


