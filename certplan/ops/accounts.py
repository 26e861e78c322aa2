"""ACME accounts in the keystore: list, show, deactivate, key rollover (RFC 8555 7.3.5).

An account is one key per (CA directory, e-mail), kept in the keystore. Nothing
here returns or raises key material: accounts are shown by their public facts
and the RFC 7638 thumbprint of the public key.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certplan.engine.sessions import CaEndpoint
from certplan.model.config import ca_directory
from certplan.model.crypto import describe_key, generate_key, key_to_pem, load_key
from certplan.model.errors import CertplanError
from certplan.model.presets import PRESETS
from certplan.model.project import Project
from certplan.store.atomic import atomic_write, fsync_dir
from certplan.store.keystore import KEY_MODE, Keystore

if TYPE_CHECKING:
    from certplan.ca import AcmeClient


@dataclass(frozen=True)
class AccountView:
    """Public facts about one account key in the keystore."""

    id: str
    ca_names: tuple[str, ...]  # CA names of certplan.toml and presets with this directory
    directory: str
    email: str
    account_url: str | None
    created: str
    key_type: str
    thumbprint: str  # RFC 7638, base64url: identifies the key without revealing it


def _thumbprint(key_pem: bytes) -> tuple[str, str]:
    from certplan.ca import jwk_and_alg

    key = load_key(key_pem, source="account key")
    jwk, _ = jwk_and_alg(key)
    digest = base64.urlsafe_b64encode(jwk.thumbprint()).rstrip(b"=").decode()
    return describe_key(key), digest


def _ca_names(project: Project) -> dict[str, list[str]]:
    by_dir: dict[str, list[str]] = {}
    for name in sorted(set(PRESETS) | set(project.config.ca)):
        directory = ca_directory(project.config, name)
        if directory:
            by_dir.setdefault(directory, []).append(name)
    return by_dir


def list_accounts(project: Project) -> list[AccountView]:
    """Every account key in the keystore, with the CA names that use its directory."""
    folder = project.keystore_dir / "accounts"
    names = _ca_names(project)
    views = []
    for info in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        key_path = info.with_name(info.stem + ".key.pem")
        if not key_path.exists():
            continue
        try:
            data = json.loads(info.read_text())
            directory, email = str(data["directory"]), str(data.get("email") or "")
        except (OSError, ValueError, KeyError, TypeError):
            raise CertplanError(f"{info}: not a valid account record") from None
        key_type, thumb = _thumbprint(key_path.read_bytes())
        views.append(AccountView(
            id=info.stem, ca_names=tuple(names.get(directory, [])), directory=directory,
            email=email, account_url=data.get("account_url"), created=str(data.get("created")),
            key_type=key_type, thumbprint=thumb))
    return views


def _endpoint(project: Project, ca_name: str | None) -> CaEndpoint:
    name = ca_name or project.config.defaults.ca[0]
    try:
        return CaEndpoint.of(project, name)
    except CertplanError:
        known = sorted(set(PRESETS) | set(project.config.ca))
        raise CertplanError(f"unknown CA {name!r} (known: {', '.join(known)})") from None


def account_for(project: Project, ca_name: str | None) -> tuple[CaEndpoint, AccountView]:
    endpoint = _endpoint(project, ca_name)
    ident = Keystore.account_id(endpoint.directory, endpoint.email or "")
    for view in list_accounts(project):
        if view.id == ident:
            return endpoint, view
    raise CertplanError(f"no account for CA {endpoint.name} ({endpoint.directory}, e-mail "
                        f"{endpoint.email or 'none'}) in the keystore {project.keystore_dir}; "
                        f"`certplan apply` creates it")


def _connect(endpoint: CaEndpoint, key_pem: bytes, timeout: float) -> AcmeClient:
    from certplan.ca import AcmeClient

    client = AcmeClient.connect(endpoint.directory, load_key(key_pem, source="account key"),
                                ca_bundle=endpoint.ca_bundle, timeout=timeout)
    if client.find_account() is None:
        raise CertplanError(f"CA {endpoint.name} ({endpoint.directory}) knows no account for "
                            f"this key (deactivated, or the CA was reset)")
    return client


def _key_paths(project: Project, endpoint: CaEndpoint) -> tuple[Path, Path]:
    key_path, _ = Keystore(project.keystore_dir).account_paths(endpoint.directory,
                                                               endpoint.email or "")
    return key_path, key_path.with_name(key_path.name + ".next")


def show_account(project: Project, ca_name: str | None, remote: bool,
                 timeout: float = 30.0) -> tuple[AccountView, dict[str, Any] | None]:
    """Local facts, and (remote) the account as the CA has it: status, contact."""
    endpoint, view = account_for(project, ca_name)
    if not remote:
        return view, None
    key_path, _ = _key_paths(project, endpoint)
    client = _connect(endpoint, key_path.read_bytes(), timeout)
    details = client.account_details()
    return view, {k: details[k] for k in ("status", "contact", "orders") if k in details}


def deactivate_account(project: Project, ca_name: str | None, timeout: float = 30.0,
                       now: datetime | None = None) -> tuple[AccountView, Path]:
    """Deactivate the account at the CA (irreversible), then move its key aside so
    the next apply creates a fresh account. Returns where the old key went."""
    endpoint, view = account_for(project, ca_name)
    key_path, _ = _key_paths(project, endpoint)
    client = _connect(endpoint, key_path.read_bytes(), timeout)
    client.deactivate_account()
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    info_path = key_path.with_name(view.id + ".json")
    aside = key_path.with_name(f"{view.id}.deactivated-{stamp}.key.pem.old")
    os.rename(key_path, aside)
    os.rename(info_path, aside.with_name(f"{view.id}.deactivated-{stamp}.json.old"))
    fsync_dir(key_path.parent)
    return view, aside


def rollover_account(project: Project, ca_name: str | None,
                     timeout: float = 30.0) -> tuple[AccountView, str]:
    """Replace the account key at the CA with a new one of the same type.

    The new key is written (0600) beside the old one before the CA is asked, and
    takes the old one's place only once the CA accepted it. Returns the account
    and the new key's thumbprint."""
    endpoint, view = account_for(project, ca_name)
    key_path, next_path = _key_paths(project, endpoint)
    if next_path.exists():
        raise CertplanError(f"{next_path} exists: an earlier rollover was cut short; if "
                            f"`certplan account show {endpoint.name}` fails, the CA has the "
                            f"new key: move {next_path.name} over {key_path.name}")
    client = _connect(endpoint, key_path.read_bytes(), timeout)
    new_pem = key_to_pem(generate_key(view.key_type))
    atomic_write(next_path, new_pem, KEY_MODE)
    try:
        client.rollover(load_key(new_pem, source="new account key"))
    except BaseException:
        next_path.unlink(missing_ok=True)
        raise
    os.replace(next_path, key_path)
    fsync_dir(key_path.parent)
    return view, _thumbprint(new_pem)[1]
