"""ACME sessions per CA for one apply run: connect once, find or create the account once,
and respect the CA's rate limits: one answer "come back later" (HTTP 429, or 503 with
Retry-After) stops every request to that CA in this run and is remembered in the
keystore (store.ratelimits); later runs send nothing to it until then, unless
`apply --ignore-rate-limit`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from certplan.model.config import CaConfig, Config, ca_directory
from certplan.model.crypto import load_key
from certplan.model.errors import AcmeError, CertplanError
from certplan.model.presets import PRESETS
from certplan.model.project import Project
from certplan.store.keystore import Keystore
from certplan.store.ratelimits import RateLimit, RateLimitFileError, RateLimits

if TYPE_CHECKING:
    from certplan.ca import AcmeClient
    from certplan.ca.faults import RateLimitHit

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class CaEndpoint:
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
    def of(cls, project: Project, name: str) -> CaEndpoint:
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

    def __init__(self, project: Project, keystore: Keystore, timeout: float = 30.0, *,
                 clock: Clock = lambda: datetime.now(UTC), ignore_rate_limit: bool = False):
        self.project = project
        self.keystore = keystore
        self.timeout = timeout  # per request; the certificate's deadline may cut it shorter
        self.clock = clock
        self.ignore_rate_limit = ignore_rate_limit
        self.limits = RateLimits(keystore.root)
        self._clients: dict[str, AcmeClient] = {}
        self._failed: dict[str, str] = {}
        self._limited: dict[str, RateLimit] = {}  # hit in this run
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def client(self, ca_name: str) -> tuple[AcmeClient, CaEndpoint]:
        with self._guard:
            lock = self._locks.setdefault(ca_name, threading.Lock())
        endpoint = CaEndpoint.of(self.project, ca_name)
        _acquire(lock, ca_name)
        try:
            self._check_rate_limit(endpoint)
            if ca_name in self._failed:
                # One try per CA and run: a CA that is down must not cost every
                # certificate its own connection timeout.
                raise AcmeError(f"{self._failed[ca_name]} (not retried in this run)")
            if ca_name not in self._clients:
                try:
                    self._clients[ca_name] = self._connect(endpoint)
                except CertplanError as exc:
                    self._failed[ca_name] = str(exc)
                    raise
        finally:
            lock.release()
        return self._clients[ca_name], endpoint

    # -- rate limits --------------------------------------------------------------------

    def _check_rate_limit(self, endpoint: CaEndpoint) -> None:
        """Raise RateLimited, sending nothing, while the CA has asked this account to wait."""
        from certplan.ca.faults import RateLimited
        from certplan.ca.polling import utc_minute

        hit = self._limited.get(endpoint.name)
        if hit is not None:  # in this run, even with --ignore-rate-limit
            raise RateLimited(f"CA {endpoint.name} rate limited this account earlier in this "
                              f"run ({hit.reason}); nothing more is sent to it in this run: "
                              f"retry after {utc_minute(hit.until)}")
        if self.ignore_rate_limit:
            return
        try:
            limit = self.limits.load(endpoint.directory, endpoint.email or "")
        except RateLimitFileError as exc:
            raise RateLimited(f"CA {endpoint.name}: {exc}; nothing was sent (delete the file, "
                              f"or pass --ignore-rate-limit)") from None
        if limit is None or limit.directory != endpoint.directory:
            return
        if limit.active(self.clock()):
            raise RateLimited(
                f"CA {endpoint.name} is rate limited until {utc_minute(limit.until)} "
                f"(since {utc_minute(limit.seen_at)}: {limit.reason}); nothing was sent: "
                f"retry after {utc_minute(limit.until)}, or pass --ignore-rate-limit")

    def _record(self, endpoint: CaEndpoint, hit: RateLimitHit) -> None:
        """The CA has just rate limited this account: set when to retry, remember it."""
        from certplan.ca.polling import retry_after_until

        now = self.clock()
        hit.until = retry_after_until(hit.retry_after, now)
        limit = RateLimit(ca=endpoint.name, directory=endpoint.directory, until=hit.until,
                          seen_at=now, reason=hit.reason())
        with self._guard:
            self._limited[endpoint.name] = limit
        try:
            self.limits.save(endpoint.email or "", limit)
        except RateLimitFileError as exc:
            hit.unsaved = str(exc)

    def _connect(self, endpoint: CaEndpoint) -> AcmeClient:
        from certplan.ca import AcmeClient, TermsNotAgreed

        if endpoint.ca_bundle is not None and not os.access(endpoint.ca_bundle, os.R_OK):
            raise AcmeError(f"certplan.toml: ca.{endpoint.name}.ca_bundle: cannot read "
                            f"{endpoint.ca_bundle}")

        from certplan.ca.faults import RateLimited
        from certplan.ca.network import rate_limited

        key_pem = self.keystore.account_key(endpoint.directory, endpoint.email or "")
        try:
            client = AcmeClient.connect(endpoint.directory,
                                        load_key(key_pem, source="account key"),
                                        ca_bundle=endpoint.ca_bundle, timeout=self.timeout)
        except RateLimited as exc:  # the directory itself (no session to tell yet)
            if exc.hit is None:
                raise
            self._record(endpoint, exc.hit)
            raise rate_limited(endpoint.directory, exc.action, exc.hit) from None
        client.on_rate_limit(lambda hit: self._record(endpoint, hit))
        try:
            url = client.ensure_account(endpoint.email, endpoint.agree_tos,
                                        eab=lambda: self._eab(endpoint, client))
        except TermsNotAgreed as exc:  # said in the words of certplan.toml
            raise AcmeError(f"CA {endpoint.name}: its terms of service ({exc.terms_of_service}) "
                            f"must be agreed: set agree_tos = true in [defaults] or "
                            f"[ca.{endpoint.name}] of certplan.toml") from None
        self.keystore.save_account_url(endpoint.directory, endpoint.email or "", url)
        return client

    def _eab(self, endpoint: CaEndpoint, client: AcmeClient) -> tuple[str, str] | None:
        """EAB credentials for a new account: from certplan.toml, else fetched by e-mail
        where the CA offers that (ZeroSSL); None when the CA needs none."""
        if endpoint.eab is not None:
            assert endpoint.eab.eab_kid is not None and endpoint.eab.eab_hmac_key is not None
            return endpoint.eab.eab_kid, endpoint.eab.eab_hmac_key.resolve()
        if not (client.meta.external_account_required or endpoint.eab_required):
            return None
        if not (endpoint.eab_email_url and endpoint.email):
            raise AcmeError(f"CA {endpoint.name} requires External Account Binding: set "
                            f"eab_kid and eab_hmac_key in [ca.{endpoint.name}] of "
                            f"certplan.toml")
        from certplan.ca.deadline import time_left
        from certplan.ca.eab import fetch_eab_by_email

        left = time_left()
        if left is not None and left <= 0:
            raise AcmeError(f"CA {endpoint.name}: --timeout ran out before the EAB credentials "
                            f"could be fetched from {endpoint.eab_email_url}")
        timeout = self.timeout if left is None else min(self.timeout, left)
        return fetch_eab_by_email(endpoint.eab_email_url, endpoint.email, timeout)


def _acquire(lock: threading.Lock, ca_name: str) -> None:
    """Wait for another worker connecting to the same CA, but not past this
    certificate's deadline."""
    from certplan.ca.deadline import time_left

    left = time_left()
    if not lock.acquire(timeout=-1 if left is None else max(0.0, left)):
        raise AcmeError(f"CA {ca_name}: --timeout ran out while another certificate was "
                        f"connecting to it")
