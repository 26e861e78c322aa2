"""The files backend's lock: a second holder fails at once naming the first; a timeout
waits. (Every backend's lock exclusion is in tests/contract/test_state_backend.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
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


class FakeClock:
    """An injected clock: sleeping moves it on at once (no test waits on the wall clock);
    `on_sleep` runs at each sleep, e.g. to let the holder go."""

    def __init__(self, on_sleep: Callable[[], None] = lambda: None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.on_sleep()


def test_second_holder_fails_at_once_with_pid(tmp_path: Path,
                                              holder: subprocess.Popen[str]) -> None:
    fake = FakeClock()
    with pytest.raises(LockError) as info, state_lock(tmp_path, 0.0, fake.clock, fake.sleep):
        pass
    assert fake.sleeps == []  # no waiting at all with timeout 0
    assert f"(PID {holder.pid})" in str(info.value)
    assert str(tmp_path / LOCK_NAME) in str(info.value)
    with pytest.raises(LockError), FilesBackend(tmp_path).lock(0.0):  # the backend's lock too
        pass


def test_timeout_waits_for_the_holder(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    def let_go() -> None:  # the holder ends during the third wait
        if len(fake.sleeps) == 3:
            release(holder)
            holder.wait(timeout=10)

    fake = FakeClock(let_go)
    with state_lock(tmp_path, 10, fake.clock, fake.sleep):
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
    assert len(fake.sleeps) == 3 and sum(fake.sleeps) < 10


def test_timeout_expires(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    fake = FakeClock()
    with pytest.raises(LockError, match=r"waited 0.3s"), \
            state_lock(tmp_path, 0.3, fake.clock, fake.sleep):
        pass
    assert sum(fake.sleeps) == pytest.approx(0.3)


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
