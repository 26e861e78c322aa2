"""Atomic file writes: temp file in the same folder, fsync, rename, fsync the folder.

The temp file is created with its final mode (O_EXCL, mode given to open), so a
key file is never readable by others, not even for an instant. Everything goes
through one open fd of the target's folder: the temp file is created there with
O_EXCL|O_NOFOLLOW and renamed there, and a symbolic link at the target is refused
(UnsafePath), never replaced or written through.
"""

from __future__ import annotations

import os
from pathlib import Path

from certplan.store.safefs import make_dirs, refuse_link, write_temp


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
        self._dir = os.open(self.target.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            refuse_link(self.target.name, dir_fd=self._dir, shown=self.target)
            self._tmp = write_temp(self._dir, self.target.name, data, mode, uid, gid)
        except BaseException:
            os.close(self._dir)
            raise
        self.tmp = self.target.parent / self._tmp

    def commit(self) -> None:
        try:
            refuse_link(self.target.name, dir_fd=self._dir, shown=self.target)
            os.replace(self._tmp, self.target.name, src_dir_fd=self._dir, dst_dir_fd=self._dir)
            os.fsync(self._dir)
        except BaseException:
            self.discard()
            raise
        os.close(self._dir)

    def discard(self) -> None:
        try:
            os.unlink(self._tmp, dir_fd=self._dir)
        except FileNotFoundError:
            pass
        finally:
            os.close(self._dir)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) with mode 0700 whatever the umask; tighten
    an existing one."""
    make_dirs(path, 0o700)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
