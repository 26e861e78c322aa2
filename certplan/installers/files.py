"""The files installer: write key and certificate files, then `check`, then `reload`.

Its target model is FilesTarget (`[[certificate.install]]`, `type = "files"`, the
default); what it reports and records are the target's paths with the SHA-256 of
their bytes.

Each file is replaced atomically with its mode and owner from the start. Files
whose content, mode and owner are already right are not touched; when nothing
changed (and not forced) neither `check` nor `reload` runs. When anything fails
(a folder that cannot be made, a write, `check`, `reload`, `verify`, whatever the
exception), the previous files are put back exactly (content, mode, owner; files
that did not exist are deleted; see files_write) and, if the reload had run, the
server is reloaded again so it picks the old files up. Then InstallError is raised
saying what failed (a command: its exit code and the tail of its output).
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from certplan.installers.commands import run_command
from certplan.installers.files_remove import remove_files
from certplan.installers.files_write import StepFailed, Transaction, failure, read_old
from certplan.model.errors import InstallError
from certplan.model.hostport import parse_hostport
from certplan.model.installed import Installed, Material, Observed, Removal
from certplan.model.records import InstallRecord
from certplan.model.spec import InstallTarget
from certplan.model.text import bad_character
from certplan.store.safefs import UnsafePath, read_regular

VERIFY_TIMEOUT = 10.0  # seconds for the server to present the new certificate
KINDS = ("key_file", "cert_file", "chain_file", "fullchain_file", "bundle_file")
# fields that name files or run commands: printable text only (see model.text)
_TEXT_FIELDS = KINDS + ("owner", "group", "check", "reload", "verify_name")
# the fields (in this order) whose reprs the previous version hashed into its digest
_PREVIOUS_DIGEST_FIELDS = KINDS + ("key_mode", "cert_mode", "owner", "group", "check",
                                   "reload", "verify", "verify_name", "timeout")


def canonical_path(path: str, root: Path, folders: dict[str, str] | None = None) -> str:
    """`path` (relative: to `root`) as absolute, with its folder resolved the way the
    kernel will when the file is written: "a/./b", "a/x/../b", "a//b" and a symlinked
    folder all give one form, and "link/../b" goes up from where the link points (so
    `normpath` alone would be wrong). Folders that do not exist yet are kept as
    written. The last component is kept as it is: what sits there is the installer's
    business when it writes. `folders` caches resolved folders within one load."""
    if path.startswith("~"):
        path = os.path.expanduser(path)
    full = path if path.startswith("/") else os.path.join(os.path.abspath(root), path)
    folder, _, name = full.rpartition("/")
    folders = {} if folders is None else folders
    real = folders.get(folder)
    if real is None:
        real = folders[folder] = os.path.realpath(folder or "/")
    return f"{real.rstrip('/')}/{name}"


def shared_with(mode: str) -> str | None:
    """"group", "others" or "group and others" that `mode` lets read a file; None."""
    bits = int(mode, 8)
    who = [w for w, bit in (("group", 0o040), ("others", 0o004)) if bits & bit]
    return " and ".join(who) or None


def _check_mode(value: str) -> str:
    if isinstance(value, int):
        raise ValueError('write file modes as strings, e.g. "0640"')
    if not re.fullmatch(r"0?[0-7]{3}", value):
        raise ValueError(f'{value!r} is not an octal file mode like "0640"')
    return value.zfill(4)


class FilesTarget(InstallTarget):
    """`type = "files"` (the default): where key and certificate files go, and how
    the server picks them up."""

    type: Literal["files"] = "files"
    key_file: str | None = None
    cert_file: str | None = None
    chain_file: str | None = None
    fullchain_file: str | None = None
    bundle_file: str | None = None  # key + fullchain in one file (haproxy)
    # a key_mode that lets group or others read the key must be asked for here
    # (declared before key_mode, which is checked against it)
    allow_shared_key: bool = False
    key_mode: Annotated[str, Field(validate_default=True)] = "0600"
    cert_mode: Annotated[str, Field(validate_default=True)] = "0644"
    owner: str | None = None
    group: str | None = None
    check: str | None = None
    reload: str | None = None
    # After the reload, a TLS handshake to HOST:PORT must present the new certificate
    # (SNI: verify_name, default the certificate's first name), else the old files
    # are put back and reloaded.
    verify: str | None = None
    verify_name: str | None = None
    timeout: float = Field(default=60.0, gt=0, le=3600)

    digest_fields: ClassVar[tuple[str, ...]] = _PREVIOUS_DIGEST_FIELDS
    digest_version: ClassVar[int] = 1

    def steps(self) -> list[tuple[str, str]]:
        named = [("check", self.check), ("reload", self.reload)]
        out = [(step, command) for step, command in named if command is not None]
        if (tls := self.tls_endpoint()) is not None:
            out.append(("verify", f"handshake {tls[0]}"
                                  + (f" (SNI {self.verify_name})" if self.verify_name else "")))
        return out

    def tls_endpoint(self) -> tuple[str, str | None] | None:
        return (self.verify, self.verify_name) if self.verify is not None else None

    _modes = field_validator("key_mode", "cert_mode", mode="before")(
        classmethod(lambda cls, v: _check_mode(v))
    )

    @field_validator("key_mode")
    @classmethod
    def _key_not_shared(cls, value: str, info: ValidationInfo) -> str:
        if value == "0600":  # the default
            return value
        holds_key = any(info.data.get(k) for k in ("key_file", "bundle_file"))
        who = shared_with(value)
        if holds_key and who and not info.data.get("allow_shared_key"):
            raise ValueError(f'"{value}" lets {who} read the private key; if that is '
                             "intended, set allow_shared_key = true on this install target")
        return value

    @field_validator("verify")
    @classmethod
    def _verify(cls, value: str | None) -> str | None:
        if value is not None:
            parse_hostport(value)
        return value

    @model_validator(mode="after")
    def _some_file(self) -> FilesTarget:
        files = self.files()
        texts = [v for k in _TEXT_FIELDS[len(KINDS):] if (v := getattr(self, k)) is not None]
        if bad_character("".join([*files.values(), *texts])) is not None:  # one look if clean
            for k in _TEXT_FIELDS:
                if (v := getattr(self, k)) is not None and (bad := bad_character(v)):
                    raise ValueError(f"{k} = {v!r}: {bad}")
        for kind, path in files.items():
            if path.endswith("/") or path.rpartition("/")[2] in ("", ".", ".."):
                raise ValueError(f"{kind} = {path!r} names a folder, not a file")
        paths = list(files.values())
        if len(set(paths)) < len(paths):
            for path in paths:
                if paths.count(path) > 1:
                    kinds = [k for k, p in files.items() if p == path]
                    raise ValueError(f"{path} is named by {' and '.join(kinds)}: one file, "
                                     "one kind")
        if not files:
            raise ValueError(
                "an install target needs at least one of key_file, cert_file, chain_file, "
                "fullchain_file, bundle_file"
            )
        return self

    def holds_key(self) -> bool:
        return self.key_file is not None or self.bundle_file is not None

    def files(self) -> dict[str, str]:
        """kind -> path, for the kinds this target writes, in a fixed order."""
        return {k: path for k in KINDS if (path := getattr(self, k)) is not None}

    def mode_for(self, kind: str) -> int:
        secret = kind in ("key_file", "bundle_file")
        return int(self.key_mode if secret else self.cert_mode, 8)

    def same_definition(self, recorded: str) -> bool:
        """Also accepts the digest the previous version recorded (so an upgrade
        installs nothing again); apply rewrites it in the current form."""
        return recorded == self.digest() or recorded == self.previous_digest()

    def previous_digest(self) -> str:
        """The previous version's digest: SHA-256 over "field=repr(value)" lines."""
        data = "\n".join(f"{k}={getattr(self, k)!r}" for k in _PREVIOUS_DIGEST_FIELDS)
        return hashlib.sha256(data.encode()).hexdigest()[:16]


def target_contents(target: FilesTarget, material: Material) -> dict[str, bytes]:
    """path -> bytes this target writes (bundle_file = key + full chain)."""
    m = material
    by_kind = {"key_file": m.key_pem, "cert_file": m.leaf_pem, "chain_file": m.chain_pem,
               "fullchain_file": m.fullchain_pem, "bundle_file": m.key_pem + m.fullchain_pem}
    return {path: by_kind[kind] for kind, path in target.files().items()}


def file_hashes(paths: Iterable[str]) -> dict[str, str | None]:
    """path -> SHA-256 hex of its bytes, None when it cannot be read, "!" and the
    reason when it is no file certplan would read (a link, a FIFO, a device, too
    large): never followed, never read past MAX_READ, never waited on."""
    out: dict[str, str | None] = {}
    for path in paths:
        try:
            out[path] = hashlib.sha256(read_regular(path)).hexdigest()
        except UnsafePath as exc:
            out[path] = f"!{exc.strerror}"
        except OSError:
            out[path] = None
    return out


def resolve_owner(target: FilesTarget) -> tuple[int, int]:
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


class FilesInstaller:
    """Installer "files": see the module docstring. Its parts are the target's
    paths, each with the SHA-256 of its bytes."""

    name: ClassVar[str] = "files"
    target_model: ClassVar[type[InstallTarget]] = FilesTarget

    def __init__(self) -> None:
        self._folders: dict[str, str] = {}  # folder -> its realpath, for this instance's life

    def locations(self, target: FilesTarget, root: Path) -> dict[str, str]:
        return {kind: canonical_path(path, root, self._folders)
                for kind, path in target.files().items()}

    def warnings(self, target: FilesTarget) -> list[str]:
        if target.key_mode == "0600":  # the default, and by far the most common
            return []
        return [f"key readable by {who} ({target.key_mode})"
                for who in [shared_with(target.key_mode)] if who and target.holds_key()]

    def observe(self, target: FilesTarget) -> Observed:
        return Observed.of(file_hashes(target.files().values()))

    def remove(self, record: InstallRecord, material: Material | None) -> Removal:
        return remove_files(record.parts, material)

    def install(self, target: FilesTarget, material: Material, *,
                force: bool = False) -> Installed:
        uid, gid = resolve_owner(target)
        contents = target_contents(target, material)
        modes = {path: target.mode_for(kind) for kind, path in target.files().items()}
        olds = {path: read_old(Path(path)) for path in contents}
        todo = [p for p, data in contents.items()
                if not olds[p].same_as(data, modes[p], uid, gid)]
        hashes = {path: hashlib.sha256(data).hexdigest() for path, data in contents.items()}
        if not todo and not force:
            return Installed.of(hashes, changed=False)
        txn = Transaction(olds)
        try:  # whatever fails, and however: put back what was there
            for path in todo:
                txn.write(path, contents[path], modes[path], uid, gid)
            ran = self._run_steps(target, txn)
            if target.verify is not None:
                self._verify(target, material)
                ran.append(f"verify {target.verify}")
        except BaseException as exc:
            note = txn.undo(target.reload, target.timeout)
            if not isinstance(exc, Exception):
                raise  # an interrupt: files put back, then stop
            head, tail = failure(exc)
            raise InstallError(f"{head}; {note}{tail}") from None
        return Installed.of(hashes, changed=bool(todo), ran=tuple(ran))

    def _verify(self, target: FilesTarget, material: Material) -> None:
        # imported here: `plan` observes targets and needs none of this
        from cryptography.hazmat.primitives import serialization

        from certplan.installers.verify import wait_served
        from certplan.model.crypto import load_leaf

        assert target.verify is not None
        leaf_der = load_leaf(material.leaf_pem).public_bytes(serialization.Encoding.DER)
        wait_served(target.verify, target.verify_name or material.server_name, leaf_der,
                    time.monotonic() + min(target.timeout, VERIFY_TIMEOUT))

    def _run_steps(self, target: FilesTarget, txn: Transaction) -> list[str]:
        ran: list[str] = []
        for step in ("check", "reload"):
            command = getattr(target, step)
            if command is None:
                continue
            ran.append(command)
            txn.reloaded = txn.reloaded or step == "reload"
            code, output = run_command(command, target.timeout)
            if code == 0:
                continue
            how = f"timed out after {target.timeout:g}s" if code is None else f"exited {code}"
            tail = f":\n{output}" if output else " (no output)"
            raise StepFailed(f"{step} command {command!r} {how}", tail)
        return ran
