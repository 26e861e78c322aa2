"""The write side of the files installer: what a path held before, and putting it back.

A `Transaction` remembers what each path held before it was written (content,
mode, owner; or that it did not exist) and whether the reload command has run.
`undo` puts every written path back and, when the server may already have read
the new files, runs the reload again so that it picks the old ones up. The
installer calls it on every failure, whatever its kind: a failing command, an
unwritable folder, a bug, an interrupt.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

from certplan.installers.commands import run_command
from certplan.model.errors import InstallError
from certplan.store.atomic import atomic_write, fsync_dir
from certplan.store.safefs import UnsafePath, make_dirs, read_regular, refuse_link

DIR_MODE = 0o755


@dataclass(frozen=True)
class Old:
    """What a path held before we wrote it; data None means it did not exist."""

    data: bytes | None
    mode: int = 0
    uid: int = -1
    gid: int = -1

    def same_as(self, data: bytes, mode: int, uid: int, gid: int) -> bool:
        """Whether writing (data, mode, uid, gid) would change nothing."""
        return (self.data == data and self.mode == mode
                and uid in (-1, self.uid) and gid in (-1, self.gid))


def read_old(path: Path) -> Old:
    """What is at `path` now, to put back on failure: only a regular file (a link is
    refused, so a rollback can never copy what a link pointed at)."""
    try:
        if refuse_link(path) is None:
            return Old(None)
        data = read_regular(path)
        st = path.lstat()
        return Old(data, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    except UnsafePath as exc:
        raise InstallError(f"{path}: {exc.strerror}; refusing to install over it (point "
                           f"the install target at a regular file)") from None
    except FileNotFoundError:
        return Old(None)
    except OSError as exc:
        raise InstallError(f"{path}: cannot read the current file: {exc.strerror}") from None


def make_parents(path: Path) -> None:
    try:
        make_dirs(path.parent, DIR_MODE)  # 0755 whatever the umask
    except OSError as exc:
        raise InstallError(f"cannot create folder {exc.filename or path.parent}: "
                           f"{exc.strerror}") from None


class StepFailed(InstallError):
    """A check or reload command failed: `head` says which and how, `tail` is its
    output (shown after what was done about it)."""

    def __init__(self, head: str, tail: str):
        super().__init__(head + tail)
        self.head, self.tail = head, tail


@dataclass
class Transaction:
    olds: dict[str, Old]
    written: list[str] = field(default_factory=list)
    reloaded: bool = False  # the reload command has started: the server may hold new files

    def write(self, path: str, data: bytes, mode: int, uid: int, gid: int) -> None:
        make_parents(Path(path))
        self.written.append(path)  # before: a write cut short may have left a file
        atomic_write(path, data, mode, uid, gid)

    def undo(self, reload: str | None, timeout: float) -> str:
        """Put back what the written paths held; reload again if the reload had run.
        Returns what was done, for the error message."""
        failed = []
        for path in self.written:
            old = self.olds[path]
            try:
                if old.data is None:
                    Path(path).unlink(missing_ok=True)
                    fsync_dir(Path(path).parent)
                else:
                    atomic_write(path, old.data, old.mode, old.uid, old.gid)
            except OSError as exc:
                failed.append(f"{path} ({exc.strerror})")
        if not self.written:
            note = "nothing was written"
        elif failed:
            note = f"could not put back {', '.join(failed)}"
        else:
            note = "previous files restored"
        if self.reloaded and reload is not None:
            again, _ = run_command(reload, timeout)
            note += ", reloaded again" if again == 0 else ", and the reload after that failed too"
        return note


def failure(exc: Exception) -> tuple[str, str]:
    """(what went wrong, command output) for an exception raised while installing."""
    if isinstance(exc, StepFailed):
        return exc.head, exc.tail
    if isinstance(exc, InstallError):
        return str(exc), ""
    if isinstance(exc, OSError):
        where = exc.filename or "a file"
        return f"cannot write {where}: {exc.strerror or exc}", ""
    return f"internal error {type(exc).__name__}: {exc}", ""
