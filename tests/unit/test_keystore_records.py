"""A damaged run history or rate limit file in the keystore is one error naming it,
never a traceback (numbers JSON allows but Python cannot convert, times that leave
the calendar in UTC, nesting deeper than the parser's recursion)."""

from __future__ import annotations

from pathlib import Path

import pytest

from certplan.store.ratelimits import RateLimitFileError, RateLimits
from certplan.store.runlog import RunLogError, load_runlog, runlog_path

RUNLOGS = [
    b'{"certificates": {"web": {"consecutive_failures": Infinity}}}',
    b'{"last_apply": {"started": "2026-01-01T00:00:00+00:00", "duration": 1e400,'
    b' "counts": {"issue/ok": Infinity}, "ok": true}}',
    b'{"last_good_apply": "0001-01-01T00:00:00+01:00"}',
    b"[" * 100_000,
]


@pytest.mark.parametrize("data", RUNLOGS)
def test_a_damaged_run_history_is_one_error(tmp_path: Path, data: bytes) -> None:
    tmp_path.chmod(0o700)
    runlog_path(tmp_path).write_bytes(data)
    with pytest.raises(RunLogError, match="not a valid record"):
        load_runlog(tmp_path)


LIMITS = [
    b'{"ca": "le", "directory": "https://ca/dir", "until": "0001-01-01T00:00:00+01:00",'
    b' "seen_at": "2026-01-01T00:00:00+00:00"}',
    b'{"ca": "le", "directory": "https://ca/dir", "until": "9999-12-31T23:59:00-01:00",'
    b' "seen_at": "2026-01-01T00:00:00+00:00"}',
    b"[" * 60_000,
]


@pytest.mark.parametrize("data", LIMITS)
def test_a_damaged_rate_limit_file_is_one_error(tmp_path: Path, data: bytes) -> None:
    tmp_path.chmod(0o700)
    book = RateLimits(tmp_path)
    path = book.path("https://ca/dir", "a@example.org")
    path.parent.mkdir(mode=0o700)
    path.write_bytes(data)
    with pytest.raises(RateLimitFileError, match="not a valid record"):
        book.load("https://ca/dir", "a@example.org")
