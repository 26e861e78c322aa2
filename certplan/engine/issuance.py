"""Obtain one certificate through ACME. Reads top to bottom, one log line a step:
order (or resume the open one), prove control, finalize, pick the chain, verify, store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from certplan.engine.challenges import solve
from certplan.engine.sessions import CaEndpoint, Sessions
from certplan.model.crypto import (
    CertInfo,
    csr_matches_key,
    csr_names,
    generate_key,
    key_to_pem,
    make_csr,
    verify_issued,
)
from certplan.model.errors import AcmeError, CertplanError, ChallengeError
from certplan.model.project import ResolvedSpec
from certplan.model.records import CertRecord
from certplan.store.keystore import Keystore

if TYPE_CHECKING:
    from certplan.ca import AcmeClient, Order

Log = Callable[[str], None]
OnOrder = Callable[[str, str, str, bytes], None]  # (certificate name, CA name, order URL, CSR)


@dataclass
class Issued:
    key_pem: bytes
    fullchain_pem: bytes
    ca: CaEndpoint
    account_url: str
    info: CertInfo
    ari_id: str | None
    notes: list[str] = field(default_factory=list)


class Issuer:
    def __init__(self, sessions: Sessions, keystore: Keystore, validator_args: dict[str, Any],
                 log: Log, on_order: OnOrder, timeout: float = 300.0):
        self.sessions = sessions
        self.keystore = keystore
        self.validator_args = validator_args
        self.log = log
        self.on_order = on_order
        self.timeout = timeout

    def obtain(self, spec: ResolvedSpec, record: CertRecord | None) -> Issued:
        """From the spec's first CA; on a failure the CA owns, from the next one."""
        from certplan.ca.deadline import deadline_scope

        # --timeout bounds everything this certificate does, every request included
        deadline = time.monotonic() + self.timeout
        with deadline_scope(deadline):
            return self._obtain(spec, record, deadline)

    def _obtain(self, spec: ResolvedSpec, record: CertRecord | None, deadline: float) -> Issued:
        cas = spec.ca
        failures: list[str] = []
        for i, ca_name in enumerate(cas):
            try:
                issued = self._obtain_from(ca_name, spec, record, deadline)
                if failures:
                    issued.notes.append("fell back after: " + "; ".join(failures))
                return issued
            except ChallengeError:
                raise  # proving control failed: another CA would fail the same way
            except AcmeError as exc:
                failures.append(f"{ca_name}: {exc}")
                if i + 1 < len(cas):
                    self.log(f"{spec.name}: CA {ca_name} failed ({exc}); trying {cas[i + 1]}")
        if len(failures) == 1:
            raise AcmeError(failures[0].split(": ", 1)[1])
        raise AcmeError("every CA failed: " + " | ".join(failures))

    def _obtain_from(self, ca_name: str, spec: ResolvedSpec, record: CertRecord | None,
                     deadline: float) -> Issued:
        from certplan.ca import ari_cert_id, choose_chain

        client, endpoint = self.sessions.client(ca_name)
        order, key_pem, notes = self._order(client, endpoint, spec, record)
        solve(client, order, spec, deadline, self.validator_args, self.log)
        chains = client.finalize(order, deadline)
        fullchain = choose_chain(chains, spec.preferred_chain).encode("ascii")
        info = verify_issued(fullchain, key_pem, spec.domains)
        # The new pair becomes current, but the open order stays recorded until
        # apply has written the state: a crash in between resumes the (now
        # valid) order, downloads the same certificate and records it.
        self.keystore.store_current(spec.name, key_pem, fullchain)
        self.log(f"{spec.name}: issued serial {info.serial} by {info.issuer_cn or info.issuer}")
        try:
            ari_id: str | None = ari_cert_id(fullchain.decode("ascii"))
        except (CertplanError, ValueError):
            ari_id = None
        return Issued(key_pem=key_pem, fullchain_pem=fullchain, ca=endpoint,
                      account_url=client.account_url or "", info=info, ari_id=ari_id,
                      notes=notes)

    def _order(self, client: AcmeClient, endpoint: CaEndpoint, spec: ResolvedSpec,
               record: CertRecord | None) -> tuple[Order, bytes, list[str]]:
        resumed = self._resume(client, endpoint, spec, record)
        if resumed is not None:
            return resumed[0], resumed[1], ["resumed the open order " + resumed[0].url]
        self._check_profile(client, endpoint, spec)
        key_pem = self._key_for(spec)
        csr_pem = make_csr(_load(key_pem), spec.domains)
        replaces = None
        if record is not None and record.certificate is not None and record.ca == endpoint.name \
                and client.meta.renewal_info:
            replaces = record.certificate.ari_id
        notes: list[str] = []
        order = self._new_order(client, csr_pem, spec, replaces, notes)
        # The key first, then the record that points to it: a crash in between
        # leaves a key no record names, which the next order overwrites.
        self.keystore.store_pending_key(spec.name, key_pem)
        self.on_order(spec.name, endpoint.name, order.url, csr_pem)
        self.log(f"{spec.name}: order {order.url} for {', '.join(spec.domains)}")
        return order, key_pem, notes

    def _new_order(self, client: AcmeClient, csr_pem: bytes, spec: ResolvedSpec,
                   replaces: str | None, notes: list[str]) -> Order:
        from certplan.ca import ReplacesRejected

        try:
            return client.new_order(csr_pem, profile=spec.profile, replaces=replaces)
        except ReplacesRejected as exc:
            notes.append(f"the CA refused replaces={replaces} ({exc}); ordered without it")
            self.log(f"{spec.name}: {notes[-1]}")
            return client.new_order(csr_pem, profile=spec.profile)

    def _resume(self, client: AcmeClient, endpoint: CaEndpoint, spec: ResolvedSpec,
                record: CertRecord | None) -> tuple[Order, bytes] | None:
        """The open order recorded in state, with its key from the keystore, if it
        is still the order to finish; else None (and its key is forgotten)."""
        pending = record.pending_order if record is not None else None
        if pending is None:
            return None
        key_pem = self.keystore.load_pending_key(spec.name)
        csr_pem = pending.csr_pem.encode("ascii") if pending.csr_pem is not None else None
        if key_pem is None or csr_pem is None or not _csr_of(csr_pem, key_pem):
            self.log(f"{spec.name}: open order {pending.url} cannot be resumed (its CSR or "
                     f"key is not kept); ordering anew")
            self.keystore.clear_pending(spec.name)
            return None
        if pending.directory != endpoint.directory or \
                set(csr_names(csr_pem)) != set(spec.domains):
            self.keystore.clear_pending(spec.name)
            return None
        try:
            order = client.fetch_order(pending.url, csr_pem)
        except AcmeError as exc:
            self.log(f"{spec.name}: open order {pending.url} cannot be resumed ({exc})")
            self.keystore.clear_pending(spec.name)
            return None
        if order.status in ("invalid", "expired", "deactivated", "revoked"):
            self.log(f"{spec.name}: open order {order.url} is {order.status}; ordering anew")
            self.keystore.clear_pending(spec.name)
            return None
        self.log(f"{spec.name}: resuming order {order.url} ({order.status})")
        return order, key_pem

    def _check_profile(self, client: AcmeClient, endpoint: CaEndpoint, spec: ResolvedSpec) -> None:
        profiles = client.meta.profiles
        if spec.profile and profiles and spec.profile not in profiles:
            raise CertplanError(f"{spec.name}: CA {endpoint.name} offers no profile "
                                f"{spec.profile!r} (offered: {', '.join(sorted(profiles))})")
        if spec.profile and not profiles:
            raise CertplanError(f"{spec.name}: CA {endpoint.name} advertises no profiles, "
                                f"so profile = {spec.profile!r} cannot be honoured")

    def _key_for(self, spec: ResolvedSpec) -> bytes:
        if spec.reuse_key:
            current = self.keystore.load_current(spec.name)
            if current is not None and _key_type(current[0]) == spec.key:
                return current[0]
        return key_to_pem(generate_key(spec.key))


def _csr_of(csr_pem: bytes, key_pem: bytes) -> bool:
    """The CSR was made for this key (a key from another order's attempt is not)."""
    try:
        return csr_matches_key(csr_pem, key_pem)
    except CertplanError:
        return False


def _load(key_pem: bytes) -> Any:
    from certplan.model.crypto import load_key

    return load_key(key_pem)


def _key_type(key_pem: bytes) -> str:
    from certplan.model.crypto import describe_key

    return describe_key(_load(key_pem))
