"""The keystore: private keys and account keys, outside git (default `.certplan/`, 0700).

Layout under the root:

    accounts/<id>.key.pem           account key (EC P-256 unless told), 0600
    accounts/<id>.json              public facts: directory, email, account URL, created
    accounts/<id>.key.pem.next      a new key during a key rollover, until the CA's answer
                                    proves which key is current (engine.accountkeys)
    accounts/<id>.deactivated-<UTC timestamp>.key.pem.old, .json.old
                                    a deactivated account, set aside
    certs/NAME/current/key.pem      the installed key (0600) and its full chain
    certs/NAME/current/fullchain.pem
    certs/NAME/previous/...         the one before: never read by certplan, kept so that
                                    an operator can put it back by hand (rollback)
    certs/NAME/pending.key.pem      the new key of an open order, stored before the order
                                    is recorded in state (0600); the order itself (URL, CA,
                                    CSR) is public and kept in the state record
    archive/NAME-<UTC timestamp>/   what `remove` put aside

`<id>` is the first 24 hex digits of SHA-256("<directory URL>\\n<email>").
Every write is atomic; key files are created 0600 from the start. No message
raised here ever contains key material, only paths.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from certplan.model.crypto import generate_key, key_to_pem, sha256_hex, split_chain
from certplan.model.errors import CertplanError
from certplan.store.atomic import atomic_write, ensure_private_dir, fsync_dir
from certplan.store.safefs import UnsafePath, check_own_folder, read_regular

KEY_MODE = 0o600
PUBLIC_MODE = 0o644
DEFAULT_ROOT = Path(".certplan")
PENDING_KEY = "pending.key.pem"
LEGACY_PENDING_ORDER = "pending.json"  # written by certplan 0.1; removed, never read


class KeystoreError(CertplanError):
    """The keystore cannot be read or written."""


@dataclass(frozen=True)
class AccountRecord:
    """Public facts about an ACME account (the key is in the file beside it)."""

    directory: str
    email: str
    account_url: str | None
    created: str  # ISO 8601 UTC


@dataclass(frozen=True)
class StoredAccount:
    """An account as the keystore holds it: its id (see account_id), record and key."""

    id: str
    record: AccountRecord
    key_pem: bytes


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _stamp(now: datetime.datetime | None) -> str:
    """A UTC timestamp for names of files put aside: 20261103T040506Z."""
    return (now or _utcnow()).astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def _account_record(path: Path) -> AccountRecord | None:
    raw = _read(path)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return AccountRecord(directory=str(data["directory"]), email=str(data.get("email") or ""),
                             account_url=data.get("account_url"), created=str(data.get("created")))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise KeystoreError(f"{path}: not a valid account record") from None


def _create_exclusive(path: Path, data: bytes, mode: int) -> bool:
    """Create `path` with `data` only if it does not exist; complete or absent, never partial.

    Written to a temp file first (mode set at creation), then hard-linked into
    place (link fails if the name exists). Returns False when it already existed."""
    tmp = path.parent / f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}.new"
    atomic_write(tmp, data, mode)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


def _read(path: Path) -> bytes | None:
    try:
        return read_regular(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeystoreError(f"cannot read {path}: {exc.strerror}") from None


class Keystore:
    def __init__(self, root: Path | str = DEFAULT_ROOT):
        self.root = Path(root)
        self._lock = threading.Lock()

    # -- folders -----------------------------------------------------------------------------

    def check_trusted(self) -> None:
        """The keystore folder, where it exists, must be owned by the running user and
        not writable by group or others; KeystoreError naming the fix otherwise."""
        try:
            check_own_folder(self.root, "keystore")
        except UnsafePath as exc:
            raise KeystoreError(f"{exc}; nothing was changed") from None

    def _dir(self, *parts: str) -> Path:
        self.check_trusted()  # every writer, not only apply (revoke, account)
        path = self.root
        try:
            ensure_private_dir(path)
            for part in parts:
                path = path / part
                ensure_private_dir(path)
        except OSError as exc:
            raise KeystoreError(f"cannot create keystore folder {path}: {exc.strerror}") from None
        return path

    def cert_dir(self, name: str) -> Path:
        return self.root / "certs" / name

    # -- accounts ----------------------------------------------------------------------------

    @staticmethod
    def account_id(directory: str, email: str) -> str:
        return sha256_hex(f"{directory}\n{email}".encode())[:24]

    def account_paths(self, directory: str, email: str) -> tuple[Path, Path]:
        """(key file, public JSON file) for this CA directory and email."""
        base = self.root / "accounts" / self.account_id(directory, email)
        return base.with_name(base.name + ".key.pem"), base.with_name(base.name + ".json")

    def account_key(self, directory: str, email: str, key_type: str = "ec-256") -> bytes:
        """The account key PEM for (directory, email); created (0600) on first use."""
        key_path, _ = self.account_paths(directory, email)
        existing = _read(key_path)
        if existing is not None:
            return existing
        self._dir("accounts")
        with self._lock:
            _create_exclusive(key_path, key_to_pem(generate_key(key_type)), KEY_MODE)
            self._write_account(directory, email, None, only_if_missing=True)
        data = _read(key_path)
        if data is None:
            raise KeystoreError(f"account key {key_path} vanished after it was created")
        return data

    def load_account(self, directory: str, email: str) -> AccountRecord | None:
        _, info_path = self.account_paths(directory, email)
        return _account_record(info_path)

    def load_account_key(self, directory: str, email: str) -> bytes | None:
        """The account key PEM, or None (never creates one: see account_key)."""
        return _read(self.account_paths(directory, email)[0])

    def accounts(self) -> list[StoredAccount]:
        """Every account with both its key and its record, in id order."""
        folder = self.root / "accounts"
        if not folder.is_dir():
            return []
        out = []
        for info_path in sorted(folder.glob("*.json")):
            key = _read(info_path.with_name(info_path.stem + ".key.pem"))
            record = _account_record(info_path) if key is not None else None
            if key is not None and record is not None:
                out.append(StoredAccount(info_path.stem, record, key))
        return out

    def set_account_aside(self, directory: str, email: str,
                          now: datetime.datetime | None = None) -> Path:
        """Move the key and record of a deactivated account aside (`<id>.deactivated-
        <UTC timestamp>.key.pem.old` and `.json.old`), so that the next apply creates a
        new account. Returns where the key went."""
        key_path, info_path = self.account_paths(directory, email)
        base = f"{self.account_id(directory, email)}.deactivated-{_stamp(now)}"
        aside = key_path.with_name(f"{base}.key.pem.old")
        os.rename(key_path, aside)
        os.rename(info_path, info_path.with_name(f"{base}.json.old"))
        fsync_dir(key_path.parent)
        return aside

    def adopt_account(self, directory: str, email: str, key_pem: bytes,
                      account_url: str | None) -> bool:
        """Take over an existing ACME account's key (imported from another client) so
        that the next order uses that account. Created 0600 and never overwritten:
        False when this very key is there already, KeystoreError when another is."""
        key_path, _ = self.account_paths(directory, email)
        existing = _read(key_path)
        if existing is not None:
            if existing.strip() == key_pem.strip():
                return False
            raise KeystoreError(f"{key_path} holds another account key for {directory}; "
                                "nothing was changed")
        self._dir("accounts")
        with self._lock:
            if not _create_exclusive(key_path, key_pem, KEY_MODE):
                raise KeystoreError(f"{key_path} appeared while importing; nothing was changed")
            self._write_account(directory, email, account_url, only_if_missing=False)
        return True

    # An account key rollover: the new key is staged beside the old one (0600) before the
    # CA is asked, and takes its place only once an answer of the CA proves it current;
    # it is deleted only once an answer proves the old one current (engine.accountkeys).

    def staged_account_key(self, directory: str, email: str) -> Path:
        key_path, _ = self.account_paths(directory, email)
        return key_path.with_name(key_path.name + ".next")

    def load_staged_account_key(self, directory: str, email: str) -> bytes | None:
        """The staged key of a rollover not settled yet, or None."""
        return _read(self.staged_account_key(directory, email))

    def stage_account_key(self, directory: str, email: str, key_pem: bytes) -> None:
        """Write the new key; KeystoreError if one is staged already (a rollover cut short)."""
        staged = self.staged_account_key(directory, email)
        if not _create_exclusive(staged, key_pem, KEY_MODE):
            raise KeystoreError(f"{staged} exists: an earlier key rollover was cut short")

    def discard_staged_account_key(self, directory: str, email: str) -> None:
        self.staged_account_key(directory, email).unlink(missing_ok=True)

    def commit_staged_account_key(self, directory: str, email: str) -> None:
        """The staged key replaces the account key (the CA has accepted it)."""
        key_path, _ = self.account_paths(directory, email)
        os.replace(self.staged_account_key(directory, email), key_path)
        fsync_dir(key_path.parent)

    def save_account_url(self, directory: str, email: str, account_url: str) -> None:
        """Remember the account URL the CA gave for this key (public JSON beside it)."""
        self._dir("accounts")
        self._write_account(directory, email, account_url, only_if_missing=False)

    def _write_account(self, directory: str, email: str, account_url: str | None, *,
                       only_if_missing: bool) -> None:
        _, info_path = self.account_paths(directory, email)
        old = self.load_account(directory, email)
        if old is not None and only_if_missing:
            return
        created = old.created if old else _utcnow().isoformat(timespec="seconds")
        record = AccountRecord(directory, email, account_url, created)
        data = json.dumps(asdict(record), indent=2, sort_keys=True) + "\n"
        atomic_write(info_path, data.encode(), PUBLIC_MODE)

    # -- current and previous certificates ---------------------------------------------------

    def load_current(self, name: str) -> tuple[bytes, bytes] | None:
        """(key PEM, fullchain PEM) of the current certificate, or None."""
        self._recover(name)
        return self._load_pair(self.cert_dir(name) / "current")

    def _load_pair(self, folder: Path) -> tuple[bytes, bytes] | None:
        key, chain = _read(folder / "key.pem"), _read(folder / "fullchain.pem")
        if key is None or chain is None:
            return None
        return key, chain

    def store_current(self, name: str, key_pem: bytes, fullchain_pem: bytes) -> None:
        """Make (key, fullchain) current; the old current becomes previous (the
        rollback copy for people; certplan itself never reads it).

        Storing the same certificate again changes nothing (idempotent resume)."""
        base = self._dir("certs", name)
        now = self.load_current(name)
        if now is not None and _same_leaf(now[1], fullchain_pem):
            return
        staging = base / "next"
        if staging.exists():
            shutil.rmtree(staging)
        self._dir("certs", name, "next")
        atomic_write(staging / "key.pem", key_pem, KEY_MODE)
        atomic_write(staging / "fullchain.pem", fullchain_pem, PUBLIC_MODE)
        current, previous = base / "current", base / "previous"
        if current.exists():
            if previous.exists():
                trash = base / f".trash-{os.urandom(4).hex()}"
                os.rename(previous, trash)
                shutil.rmtree(trash)
            os.rename(current, previous)
        os.rename(staging, current)
        fsync_dir(base)

    def _recover(self, name: str) -> None:
        """Finish a rotation cut short by a crash: `next` complete but no `current`."""
        base = self.cert_dir(name)
        staging, current = base / "next", base / "current"
        if not current.exists() and self._load_pair(staging) is not None:
            os.rename(staging, current)
            fsync_dir(base)

    # -- the key of an open order -------------------------------------------------------------

    def store_pending_key(self, name: str, key_pem: bytes) -> None:
        """Keep the new key of an open order (0600), before the state records the order."""
        atomic_write(self._dir("certs", name) / PENDING_KEY, key_pem, KEY_MODE)

    def load_pending_key(self, name: str) -> bytes | None:
        return _read(self.cert_dir(name) / PENDING_KEY)

    def clear_pending(self, name: str) -> None:
        """Forget the open order's key (and a pending.json left by certplan 0.1, whose
        open order is not resumed: its state record has no CSR to check it against)."""
        base = self.cert_dir(name)
        for file in (PENDING_KEY, LEGACY_PENDING_ORDER):
            (base / file).unlink(missing_ok=True)
        if base.exists():
            fsync_dir(base)

    # -- removal -----------------------------------------------------------------------------

    def archive(self, name: str, now: datetime.datetime | None = None) -> Path | None:
        """Move certs/NAME to archive/NAME-<UTC timestamp>; None when there was nothing."""
        source = self.cert_dir(name)
        if not source.exists():
            return None
        target = self._dir("archive") / f"{name}-{_stamp(now)}"
        if target.exists():
            target = target.with_name(f"{target.name}-{os.urandom(3).hex()}")
        os.rename(source, target)
        fsync_dir(source.parent)
        return target

    # -- git ---------------------------------------------------------------------------------

    def gitignore_warning(self, project_root: Path | str) -> str | None:
        """A warning when the keystore sits in a git work tree without being ignored."""
        root = self.root if self.root.is_absolute() else Path(project_root) / self.root
        cwd = Path(project_root)
        try:
            inside = subprocess.run(["git", "-C", str(cwd), "rev-parse", "--is-inside-work-tree"],
                                    capture_output=True, timeout=10)
            if inside.returncode != 0 or inside.stdout.strip() != b"true":
                return None
            probe = str(root) + ("/" if not root.exists() else "")
            res = subprocess.run(["git", "-C", str(cwd), "check-ignore", "-q", probe],
                                 capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if res.returncode == 1:
            return (f"keystore {root} is inside a git work tree and not ignored: "
                    f"add '{self.root.name}/' to .gitignore so private keys are never committed")
        return None  # 0: ignored; 128: outside this work tree


def _same_leaf(a: bytes, b: bytes) -> bool:
    try:
        return split_chain(a)[0] == split_chain(b)[0]
    except CertplanError:
        return False
