"""The files backend's writer lock: one writer of a state folder at a time, holder
named by PID (an flock on `<folder>/.certplan.lock`; `FilesBackend.lock()`)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from certplan.model.errors import LockError

LOCK_NAME = ".certplan.lock"


@contextmanager
def state_lock(folder: Path, timeout: float = 0.0,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> Iterator[None]:
    """Hold `folder/.certplan.lock`. Waits up to `timeout` seconds, then LockError."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = clock() + timeout
        interval = 0.05
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if clock() >= deadline:
                    holder = _holder(path)
                    raise LockError(
                        f"another certplan apply holds {path}{holder}; "
                        f"waited {timeout:g}s (use --lock-timeout SECONDS to wait longer)"
                    ) from None
                sleep(min(interval, max(0.0, deadline - clock())))
                interval = min(interval * 1.5, 1.0)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        return ""
    return f" (PID {pid})" if pid.isdigit() else ""
