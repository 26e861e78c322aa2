"""ACME accounts in the keystore: list, show, deactivate, key rollover (RFC 8555 7.3.5).

An account is one key per (CA directory, e-mail), kept in the keystore. Nothing
here returns or raises key material: accounts are shown by their public facts
and the RFC 7638 thumbprint of the public key.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certplan.engine.accountkeys import roll_over, settle_staged_key
from certplan.engine.sessions import CaEndpoint
from certplan.model.config import ca_directory
from certplan.model.crypto import describe_key, load_key
from certplan.model.errors import CertplanError
from certplan.model.presets import PRESETS
from certplan.model.project import Project
from certplan.store.keystore import Keystore

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
    names = _ca_names(project)
    views = []
    for account in Keystore(project.keystore_dir).accounts():
        record = account.record
        key_type, thumb = _thumbprint(account.key_pem)
        views.append(AccountView(
            id=account.id, ca_names=tuple(names.get(record.directory, [])),
            directory=record.directory, email=record.email, account_url=record.account_url,
            created=record.created, key_type=key_type, thumbprint=thumb))
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


def _account_key(project: Project, endpoint: CaEndpoint) -> bytes:
    key = Keystore(project.keystore_dir).load_account_key(endpoint.directory,
                                                          endpoint.email or "")
    if key is None:
        raise CertplanError(f"the account key of CA {endpoint.name} is gone from the keystore "
                            f"{project.keystore_dir}")
    return key


def show_account(project: Project, ca_name: str | None, remote: bool,
                 timeout: float = 30.0) -> tuple[AccountView, dict[str, Any] | None]:
    """Local facts, and (remote) the account as the CA has it: status, contact."""
    if remote:
        _settle(project, ca_name, timeout, None)
    endpoint, view = account_for(project, ca_name)
    if not remote:
        return view, None
    client = _connect(endpoint, _account_key(project, endpoint), timeout)
    details = client.account_details()
    return view, {k: details[k] for k in ("status", "contact", "orders") if k in details}


def deactivate_account(project: Project, ca_name: str | None, timeout: float = 30.0,
                       now: datetime | None = None) -> tuple[AccountView, Path]:
    """Deactivate the account at the CA (irreversible), then set its key aside so
    the next apply creates a fresh account. Returns where the old key went."""
    _settle(project, ca_name, timeout, None)
    endpoint, view = account_for(project, ca_name)
    client = _connect(endpoint, _account_key(project, endpoint), timeout)
    client.deactivate_account()
    keystore = Keystore(project.keystore_dir)
    return view, keystore.set_account_aside(endpoint.directory, endpoint.email or "", now)


def rollover_account(project: Project, ca_name: str | None, timeout: float = 30.0,
                     log: Callable[[str], None] | None = None) -> tuple[AccountView, str]:
    """Replace the account key at the CA with a new one of the same type.

    A rollover cut short earlier is settled first. The new key is staged in the
    keystore (0600) before the CA is asked, and is deleted only once an answer of
    the CA proves the old key current (engine.accountkeys). Returns the account
    (as it was before) and the new key's thumbprint."""
    log = log or (lambda line: None)
    _settle(project, ca_name, timeout, log)
    endpoint, view = account_for(project, ca_name)
    client = _connect(endpoint, _account_key(project, endpoint), timeout)
    new_pem = roll_over(Keystore(project.keystore_dir), endpoint, client, view.key_type,
                        timeout, log)
    return view, _thumbprint(new_pem)[1]


def _settle(project: Project, ca_name: str | None, timeout: float,
            log: Callable[[str], None] | None) -> None:
    """Make the key the CA has the account key, when a rollover was cut short."""
    settle_staged_key(Keystore(project.keystore_dir), _endpoint(project, ca_name), timeout,
                      log or (lambda line: None))
