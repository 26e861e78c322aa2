"""ACME sessions per CA for one apply run: connect once, find or create the account once."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from certplan.model.config import CaConfig, Config, ca_directory
from certplan.model.crypto import load_key
from certplan.model.errors import AcmeError, CertplanError
from certplan.model.presets import PRESETS
from certplan.model.project import Project
from certplan.store.keystore import Keystore

if TYPE_CHECKING:
    from certplan.ca import AcmeClient


@dataclass(frozen=True)
class CaTarget:
    """Everything needed to talk to one CA, from certplan.toml and the presets."""

    name: str
    directory: str
    ca_bundle: str | None
    email: str | None
    agree_tos: bool
    eab: CaConfig | None
    eab_required: bool
    eab_email_url: str | None = None  # EAB credentials fetched by e-mail (ZeroSSL)

    @classmethod
    def of(cls, project: Project, name: str) -> CaTarget:
        config: Config = project.config
        ca = config.ca.get(name, CaConfig())
        directory = ca_directory(config, name)
        if directory is None:
            raise CertplanError(f"unknown CA {name!r}")
        preset = PRESETS.get(name)
        return cls(name=name, directory=directory,
                   ca_bundle=str(project.path(ca.ca_bundle)) if ca.ca_bundle else None,
                   email=ca.email or config.defaults.email,
                   agree_tos=ca.agree_tos if ca.agree_tos is not None
                   else config.defaults.agree_tos,
                   eab=ca if ca.eab_kid else None,
                   eab_required=bool(preset and preset.eab_required),
                   eab_email_url=preset.eab_email_url if preset else None)


class Sessions:
    """One connected, registered AcmeClient per CA name, shared by the workers."""

    def __init__(self, project: Project, keystore: Keystore, timeout: float = 30.0):
        self.project = project
        self.keystore = keystore
        self.timeout = timeout
        self._clients: dict[str, AcmeClient] = {}
        self._failed: dict[str, str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def client(self, ca_name: str) -> tuple[AcmeClient, CaTarget]:
        with self._guard:
            lock = self._locks.setdefault(ca_name, threading.Lock())
        target = CaTarget.of(self.project, ca_name)
        with lock:
            if ca_name in self._failed:
                # One try per CA and run: a CA that is down must not cost every
                # certificate its own connection timeout.
                raise AcmeError(f"{self._failed[ca_name]} (not retried in this run)")
            if ca_name not in self._clients:
                try:
                    self._clients[ca_name] = self._connect(target)
                except CertplanError as exc:
                    self._failed[ca_name] = str(exc)
                    raise
        return self._clients[ca_name], target

    def _connect(self, target: CaTarget) -> AcmeClient:
        from certplan.ca import AcmeClient

        if target.ca_bundle is not None and not os.access(target.ca_bundle, os.R_OK):
            raise AcmeError(f"certplan.toml: ca.{target.name}.ca_bundle: cannot read "
                            f"{target.ca_bundle}")

        key_pem = self.keystore.account_key(target.directory, target.email or "")
        client = AcmeClient.connect(target.directory, load_key(key_pem, source="account key"),
                                    ca_bundle=target.ca_bundle, timeout=self.timeout)
        meta = client.meta
        if meta.terms_of_service and not target.agree_tos:
            raise AcmeError(f"CA {target.name}: its terms of service ({meta.terms_of_service}) "
                            f"must be agreed: set agree_tos = true in [defaults] or "
                            f"[ca.{target.name}] of certplan.toml")
        eab = None
        if target.eab is not None:
            assert target.eab.eab_kid is not None and target.eab.eab_hmac_key is not None
            eab = (target.eab.eab_kid, target.eab.eab_hmac_key.resolve())
        elif (meta.external_account_required or target.eab_required) and \
                client.find_account() is None:  # only a new account needs EAB
            if not (target.eab_email_url and target.email):
                raise AcmeError(f"CA {target.name} requires External Account Binding: set "
                                f"eab_kid and eab_hmac_key in [ca.{target.name}] of "
                                f"certplan.toml")
            from certplan.ca.eab import fetch_eab_by_email

            eab = fetch_eab_by_email(target.eab_email_url, target.email, self.timeout)
        url = client.ensure_account(target.email, target.agree_tos, eab=eab)
        self.keystore.save_account_url(target.directory, target.email or "", url)
        return client
