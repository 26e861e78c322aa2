"""The files backend's lock: a second holder fails at once naming the first; a timeout
waits. (Every backend's lock exclusion is in tests/contract/test_state_backend.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from certplan.model.errors import LockError
from certplan.store.files import FilesBackend
from certplan.store.lock import LOCK_NAME, state_lock

HOLDER = """
import sys
from pathlib import Path
from certplan.store.files import FilesBackend
with FilesBackend(Path(sys.argv[1])).lock(0.0):
    print("locked", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock until its stdin gets a line."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=5)


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()


def test_second_holder_fails_at_once_with_pid(tmp_path: Path,
                                              holder: subprocess.Popen[str]) -> None:
    start = time.monotonic()
    with pytest.raises(LockError) as info, FilesBackend(tmp_path).lock(0.0):
        pass
    assert time.monotonic() - start < 0.5
    assert f"(PID {holder.pid})" in str(info.value)
    assert str(tmp_path / LOCK_NAME) in str(info.value)


def test_timeout_waits_for_the_holder(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    timer = threading.Timer(0.3, release, args=(holder,))
    timer.start()
    start = time.monotonic()
    try:
        with FilesBackend(tmp_path).lock(10):
            waited = time.monotonic() - start
            assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
    finally:
        timer.cancel()
    assert 0.25 <= waited < 5


def test_timeout_expires(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    start = time.monotonic()
    with pytest.raises(LockError, match=r"waited 0.3s"), FilesBackend(tmp_path).lock(0.3):
        pass
    assert 0.3 <= time.monotonic() - start < 2


def test_fake_clock_backs_off_until_deadline(tmp_path: Path,
                                            holder: subprocess.Popen[str]) -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(LockError), state_lock(tmp_path, timeout=3, clock=lambda: now[0],
                                              sleep=sleep):
        pass
    assert sleeps[0] == pytest.approx(0.05)
    assert sleeps[:-1] == sorted(sleeps[:-1])  # backs off; the last one is cut to the deadline
    assert max(sleeps) <= 1.0 and sum(sleeps) == pytest.approx(3.0)


def test_released_after_use_and_reentrant_in_sequence(tmp_path: Path) -> None:
    store = FilesBackend(tmp_path)
    with store.lock(0.0):
        pass
    with store.lock(0.0):
        pass
    assert (tmp_path / LOCK_NAME).read_text() == ""


def test_released_when_the_body_raises(tmp_path: Path) -> None:
    store = FilesBackend(tmp_path)
    with pytest.raises(RuntimeError), store.lock(0.0):
        raise RuntimeError("boom")
    with store.lock(0.0):
        pass
