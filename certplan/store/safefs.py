"""File-system rules for a root process fed by files from git.

certplan never follows a symbolic link it did not create, never reads more than
it expects from a file named by an input (no FIFO, no device, no endless file),
creates its folders with explicit modes whatever the umask, and refuses a folder
of its own (state, keystore) that another user owns or can write.

Every refusal is an `UnsafePath`, an OSError whose `strerror` says what is wrong
and whose `filename` is the path, so callers that report `OSError`s already name
the file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_READ = 1024 * 1024  # bytes: a state record, a saved plan, a key or certificate file
_NOFOLLOW_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
LINK_REFUSED = "is a symbolic link (certplan does not follow links it did not create)"


class UnsafePath(OSError):
    """A path certplan refuses to read or write: a link, not a regular file, too large,
    or a folder others own or can write."""

    def __init__(self, path: str | os.PathLike[str], reason: str, code: int = errno.EPERM):
        super().__init__(code, reason, str(path))

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def open_regular(path: str | os.PathLike[str], *, dir_fd: int | None = None) -> int:
    """An fd for reading a regular file at `path`; never through a final symbolic
    link, never blocking on a FIFO. UnsafePath otherwise (FileNotFoundError as is)."""
    return _open_regular(path, dir_fd)[0]


def _open_regular(path: str | os.PathLike[str],
                  dir_fd: int | None = None) -> tuple[int, os.stat_result]:
    try:
        fd = os.open(path, _NOFOLLOW_READ, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(path, LINK_REFUSED, errno.ELOOP) from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UnsafePath(path, "not a regular file", errno.EINVAL)
    return fd, st


def read_regular(path: str | os.PathLike[str], limit: int = MAX_READ) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them, else UnsafePath."""
    fd, st = _open_regular(path)
    try:
        if st.st_size > limit:
            raise UnsafePath(path, f"larger than {limit} bytes", errno.EFBIG)
        # ask for what fstat said (and a byte more, to see growth), at least 64 KiB,
        # never limit + 1 at once: os.read allocates what it is asked for, and a
        # 1 MiB buffer per small file costs more than reading it
        chunks: list[bytes] = []
        size = 0
        want = st.st_size + 1
        while chunk := os.read(fd, min(limit + 1 - size, max(want - size, 65536))):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # it grew while we read
                raise UnsafePath(path, f"larger than {limit} bytes", errno.EFBIG)
        return b"".join(chunks)
    finally:
        os.close(fd)


def refuse_link(path: str | os.PathLike[str], *, dir_fd: int | None = None,
                shown: str | os.PathLike[str] | None = None) -> os.stat_result | None:
    """lstat of `path` (None when absent); UnsafePath when it is a symbolic link."""
    try:
        st = os.lstat(path, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePath(shown or path, LINK_REFUSED, errno.ELOOP)
    return st


def make_dirs(path: Path, mode: int) -> list[Path]:
    """Create the missing folders of `path`, each with exactly `mode` (not narrowed or
    widened by the umask), each checked to be the folder certplan created (opened with
    O_NOFOLLOW). Folders that exist are left as they are. Returns those created."""
    created: list[Path] = []
    for folder in [*reversed(path.parents), path]:
        if os.path.lexists(folder):
            continue
        try:
            os.mkdir(folder, mode)
        except FileExistsError:
            continue  # made by someone else meanwhile: not ours, left as it is
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        created.append(folder)
    return created


def open_tree(base: Path, names: tuple[str, ...], mode: int, *, create: bool) -> int:
    """An fd of the folder `base/names[0]/names[1]/...`, each step opened with
    O_NOFOLLOW relative to the one before (a link there is UnsafePath, never
    followed); missing steps created with exactly `mode` when `create`."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    shown = base
    try:
        for name in names:
            shown = shown / name
            if create:
                try:
                    os.mkdir(name, mode, dir_fd=fd)
                    made = True
                except FileExistsError:
                    made = False
            try:
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                              dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    refuse_link(name, dir_fd=fd, shown=shown)
                    raise UnsafePath(shown, "not a folder", errno.ENOTDIR) from None
                raise
            if create and made:
                os.fchmod(sub, mode)
            os.close(fd)
            fd = sub
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_temp(folder: int, name: str, data: bytes, mode: int, uid: int = -1,
               gid: int = -1) -> str:
    """Write `data` to a new temp file beside `name` in the folder fd `folder`
    (O_EXCL|O_NOFOLLOW, created with `mode`, fsynced); returns the temp file's name."""
    tmp = f".{name}.certplan-{os.getpid()}-{os.urandom(4).hex()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, mode, dir_fd=folder)
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
        try:
            os.unlink(tmp, dir_fd=folder)
        except FileNotFoundError:
            pass
        raise
    return tmp


def check_own_folder(path: Path, what: str) -> None:
    """`path` (when it exists) must be a real folder owned by the running user that
    neither group nor others can write; UnsafePath naming the fix otherwise."""
    st = refuse_link(path, shown=f"{what} {path}")
    if st is None:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePath(f"{what} {path}", "not a folder", errno.ENOTDIR)
    me = os.geteuid()
    if st.st_uid != me:
        raise UnsafePath(f"{what} {path}", f"owned by {_user(st.st_uid)}, not by the user "
                         f"running certplan ({_user(me)}); if that is right, run "
                         f"`chown {_user(me)} {path}`")
    if st.st_mode & 0o022:
        raise UnsafePath(f"{what} {path}", f"writable by group or others (mode "
                         f"{stat.S_IMODE(st.st_mode):04o}); run `chmod go-w {path}`")


def _user(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def os_reason(exc: OSError) -> str:
    """An OSError in words: a refusal of these rules as said, else the system's reason."""
    return str(exc) if isinstance(exc, UnsafePath) else (exc.strerror or str(exc))
