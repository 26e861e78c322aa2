"""The files installer: write key and certificate files, then `check`, then `reload`.

Each file is replaced atomically with its mode and owner from the start. Files
whose content, mode and owner are already right are not touched; when nothing
changed (and not forced) neither `check` nor `reload` runs. When `check` or
`reload` fails, the previous files are put back exactly (content, mode, owner;
files that did not exist are deleted) and, if the reload had run, the server is
reloaded again so it picks the old files up. Then InstallError is raised with
the command, its exit code and the tail of its output.
"""

from __future__ import annotations

import grp
import os
import pwd
import signal
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from certplan.model.crypto import load_leaf, sha256_hex
from certplan.model.errors import InstallError
from certplan.model.spec import InstallTarget
from certplan.store.atomic import atomic_write, fsync_dir

OUTPUT_TAIL = 2000
VERIFY_TIMEOUT = 10.0  # seconds for the server to present the new certificate
DIR_MODE = 0o755


@dataclass(frozen=True)
class InstallResult:
    files: dict[str, str]                      # path -> SHA-256 hex of what is there now
    changed: bool                              # some file was written
    ran: list[str] = field(default_factory=list)  # commands run, in order


@dataclass(frozen=True)
class _Old:
    """What a path held before we wrote it; data None means it did not exist."""

    data: bytes | None
    mode: int = 0
    uid: int = -1
    gid: int = -1


def target_contents(target: InstallTarget, key_pem: bytes, leaf_pem: bytes, chain_pem: bytes,
                    fullchain_pem: bytes) -> dict[str, bytes]:
    """path -> bytes this target writes (bundle_file = key + full chain)."""
    by_kind = {"key_file": key_pem, "cert_file": leaf_pem, "chain_file": chain_pem,
               "fullchain_file": fullchain_pem, "bundle_file": key_pem + fullchain_pem}
    return {path: by_kind[kind] for kind, path in target.files().items()}


def delete_files(target: InstallTarget) -> list[str]:
    """Delete the files of `target`; returns those that existed. Missing files are fine."""
    deleted: list[str] = []
    for kind, path in target.files().items():
        try:
            os.unlink(path)
            deleted.append(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise InstallError(f"{kind} {path}: cannot delete: {exc.strerror}") from None
    return deleted


def resolve_owner(target: InstallTarget) -> tuple[int, int]:
    """(uid, gid) for the target's owner and group names; -1 where not set."""
    uid = gid = -1
    if target.owner is not None:
        try:
            uid = int(target.owner) if target.owner.isdigit() else pwd.getpwnam(target.owner).pw_uid
        except KeyError:
            raise InstallError(f"install target owner = {target.owner!r}: no such user") from None
    if target.group is not None:
        try:
            gid = int(target.group) if target.group.isdigit() else grp.getgrnam(target.group).gr_gid
        except KeyError:
            raise InstallError(f"install target group = {target.group!r}: no such group") from None
    return uid, gid


def _read_old(path: Path) -> _Old:
    try:
        st = path.stat()
        return _Old(path.read_bytes(), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    except FileNotFoundError:
        return _Old(None)
    except OSError as exc:
        raise InstallError(f"{path}: cannot read the current file: {exc.strerror}") from None


def _up_to_date(old: _Old, data: bytes, mode: int, uid: int, gid: int) -> bool:
    return (old.data == data and old.mode == mode
            and uid in (-1, old.uid) and gid in (-1, old.gid))


def _make_parents(path: Path) -> None:
    missing = [p for p in reversed(path.parents) if not p.exists()]
    for folder in missing:
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        except OSError as exc:
            raise InstallError(f"cannot create folder {folder}: {exc.strerror}") from None


def run_command(command: str, timeout: float) -> tuple[int | None, str]:
    """Run `command` with /bin/sh -c in its own process group.

    Returns (exit code, output tail); exit code None when it timed out (the
    whole process group is then killed)."""
    proc = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            out, _ = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            out = b""
        code = None
    text = out.decode("utf-8", errors="replace").strip()
    return code, text[-OUTPUT_TAIL:]


class FilesInstaller:
    """Installer "files": see the module docstring."""

    name = "files"

    def install(self, target: InstallTarget, key_pem: bytes, leaf_pem: bytes, chain_pem: bytes,
                fullchain_pem: bytes, *, force: bool = False,
                server_name: str | None = None) -> InstallResult:
        uid, gid = resolve_owner(target)
        contents = target_contents(target, key_pem, leaf_pem, chain_pem, fullchain_pem)
        modes = {path: target.mode_for(kind) for kind, path in target.files().items()}
        olds = {path: _read_old(Path(path)) for path in contents}
        todo = [p for p, data in contents.items()
                if not _up_to_date(olds[p], data, modes[p], uid, gid)]
        hashes = {path: sha256_hex(data) for path, data in contents.items()}
        if not todo and not force:
            return InstallResult(files=hashes, changed=False, ran=[])
        written: list[str] = []
        try:
            for path in todo:
                _make_parents(Path(path))
                atomic_write(path, contents[path], modes[path], uid, gid)
                written.append(path)
        except OSError as exc:
            _restore(olds, written)
            raise InstallError(f"cannot write {exc.filename or path}: {exc.strerror}; "
                               "files written so far were put back") from None
        ran = self._run_steps(target, olds, written)
        if target.verify is not None:
            self._verify(target, olds, written, leaf_pem, server_name or "localhost")
            ran.append(f"verify {target.verify}")
        return InstallResult(files=hashes, changed=bool(todo), ran=ran)

    def _verify(self, target: InstallTarget, olds: dict[str, _Old], written: list[str],
                leaf_pem: bytes, server_name: str) -> None:
        from certplan.installers.verify import wait_served

        leaf_der = load_leaf(leaf_pem).public_bytes(serialization.Encoding.DER)
        try:
            wait_served(target, leaf_der, server_name,
                        time.monotonic() + min(target.timeout, VERIFY_TIMEOUT))
        except InstallError as exc:
            _restore(olds, written)
            note = "previous files restored"
            if target.reload is not None:
                again, _ = run_command(target.reload, target.timeout)
                note += ", reloaded again" if again == 0 else ", and the reload failed"
            raise InstallError(f"{exc}; {note}") from None

    def _run_steps(self, target: InstallTarget, olds: dict[str, _Old],
                   written: list[str]) -> list[str]:
        ran: list[str] = []
        for step in ("check", "reload"):
            command = getattr(target, step)
            if command is None:
                continue
            ran.append(command)
            code, output = run_command(command, target.timeout)
            if code == 0:
                continue
            _restore(olds, written)
            note = "previous files restored"
            if step == "reload":
                ran.append(command)
                again, _ = run_command(command, target.timeout)
                note += ", reloaded again" if again == 0 else ", and the second reload failed too"
            how = f"timed out after {target.timeout:g}s" if code is None else f"exited {code}"
            tail = f":\n{output}" if output else " (no output)"
            raise InstallError(f"{step} command {command!r} {how}; {note}{tail}")
        return ran


def _restore(olds: dict[str, _Old], written: list[str]) -> None:
    """Put back what `written` paths held before (or delete them if they were new)."""
    for path in written:
        old = olds[path]
        if old.data is None:
            Path(path).unlink(missing_ok=True)
            fsync_dir(Path(path).parent)
        else:
            atomic_write(path, old.data, old.mode, old.uid, old.gid)
