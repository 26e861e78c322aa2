"""Atomic file writes: temp file in the same folder, fsync, rename, fsync the folder.

The temp file is created with its final mode (O_EXCL, mode given to open), so a
key file is never readable by others, not even for an instant.
"""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], data: bytes, mode: int = 0o644,
                 uid: int = -1, gid: int = -1) -> None:
    """Replace `path` with `data` atomically. Readers see the old or the new file."""
    StagedWrite(path, data, mode, uid, gid).commit()


class StagedWrite:
    """A file written and fsynced beside its target but not yet in place.

    `commit()` renames it over the target and fsyncs the folder; `discard()` removes
    it. A caller that changes several files stages all of them first, so that a full
    disk or a permission error (which strike while the data is written) changes none.
    """

    def __init__(self, path: str | os.PathLike[str], data: bytes, mode: int = 0o644,
                 uid: int = -1, gid: int = -1):
        self.target = Path(path)
        self.tmp = _write_temp(self.target, data, mode, uid, gid)

    def commit(self) -> None:
        try:
            os.replace(self.tmp, self.target)
        except BaseException:
            self.discard()
            raise
        fsync_dir(self.target.parent)

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def _write_temp(target: Path, data: bytes, mode: int, uid: int, gid: int) -> Path:
    tmp = target.parent / f".{target.name}.certplan-{os.getpid()}-{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask may have narrowed the mode given to open
            if uid != -1 or gid != -1:
                os.fchown(fd, uid, gid)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents) with mode 0700; tighten an existing one."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
