"""The files backend's writer lock: one writer of a state folder at a time, holder
named by PID (an flock on `<folder>/.certplan.lock`; `FilesBackend.lock()`).

Before anything is written the state folder must be certplan's own (owned by the
running user, not writable by group or others), and the lock file a regular file
with one link and the same owner, opened without following a symbolic link: a
link or hard link planted there can never make certplan truncate another file."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from certplan.model.errors import LockError
from certplan.store.safefs import (
    LINK_REFUSED,
    UnsafePath,
    check_own_folder,
    make_dirs,
    read_regular,
)

LOCK_NAME = ".certplan.lock"


@contextmanager
def state_lock(folder: Path, timeout: float = 0.0,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> Iterator[None]:
    """Hold `folder/.certplan.lock`. Waits up to `timeout` seconds, then LockError."""
    path = folder / LOCK_NAME
    fd = _open_lock(folder, path)
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
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            raise LockError(f"{path}: cannot write the lock file: {exc.strerror or exc}; "
                            f"nothing was changed") from None
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _open_lock(folder: Path, path: Path) -> int:
    try:
        make_dirs(folder, 0o755)
        check_own_folder(folder, "state folder")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                     | os.O_CLOEXEC, 0o644)
    except UnsafePath as exc:
        raise LockError(f"{exc}; nothing was changed") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LockError(f"{path}: the lock file {LINK_REFUSED}; remove it") from None
        raise LockError(f"{exc.filename or path}: cannot open the lock: "
                        f"{exc.strerror or exc}") from None
    st = os.fstat(fd)
    why = ("not a regular file" if not stat.S_ISREG(st.st_mode) else
           f"has {st.st_nlink} links" if st.st_nlink != 1 else
           f"owned by uid {st.st_uid}" if st.st_uid != os.geteuid() else None)
    if why is not None:
        os.close(fd)
        raise LockError(f"{path}: refusing to use this lock file: {why}; remove it")
    return fd


def _holder(path: Path) -> str:
    try:
        pid = read_regular(path, 64).decode(errors="replace").strip()
    except OSError:
        return ""
    return f" (PID {pid})" if pid.isdigit() else ""
