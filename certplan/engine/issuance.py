"""Obtain one certificate through ACME. Reads top to bottom, one log line as each step
starts: order (or resume the open one: engine.resume), prove control, finalize and
download, pick the chain, verify, store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from certplan.engine.challenges import solve
from certplan.engine.crashpoints import crashpoint
from certplan.engine.resume import Resumed, resume_open_order
from certplan.engine.sessions import CaEndpoint, Sessions
from certplan.model.crypto import CertInfo, generate_key, key_to_pem, make_csr, verify_issued
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
                 log: Log, on_order: OnOrder, timeout: float = 300.0,
                 on_drop: Callable[[str], None] = lambda name: None):
        self.sessions = sessions
        self.keystore = keystore
        self.validator_args = validator_args
        self.log = log
        self.on_order = on_order
        self.on_drop = on_drop  # (certificate name): its open order is not to be finished
        self.timeout = timeout

    def obtain(self, spec: ResolvedSpec, record: CertRecord | None) -> Issued:
        """From the spec's first CA; on a failure the CA owns, from the next one."""
        from certplan.ca.deadline import deadline_scope

        # --timeout bounds everything this certificate does, every request included
        deadline = time.monotonic() + self.timeout
        with deadline_scope(deadline):
            return self._obtain(spec, record, deadline)

    def _obtain(self, spec: ResolvedSpec, record: CertRecord | None, deadline: float) -> Issued:
        cas = list(spec.ca)
        pending = record.pending_order if record is not None else None
        if pending is not None and pending.ca in cas[1:]:
            # an open order at a fallback CA is finished there first (the plan says it is
            # resumed); asking the first CA would drop it and order a second certificate
            cas.remove(pending.ca)
            cas.insert(0, pending.ca)
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
        from certplan.ca import ari_cert_id, ca_refused

        client, endpoint = self.sessions.client(ca_name)
        resumed = resume_open_order(client, endpoint.directory, spec, record, self.keystore,
                                    deadline, self.log, self.on_drop)
        if resumed is not None:
            try:
                key_pem, fullchain = self._finish(client, spec, resumed, deadline)
                notes = ["resumed the open order " + resumed.order.url]
            except AcmeError as exc:
                if not ca_refused(exc):
                    raise  # the CA could not be asked: the order stays for the next run
                self.log(f"{spec.name}: the CA refused to finish order {resumed.order.url} "
                         f"({exc}); ordering anew")
                self.keystore.clear_pending(spec.name)
                self.on_drop(spec.name)
                resumed = None
        if resumed is None:
            order, key_pem, notes = self._order(client, endpoint, spec, record)
            key_pem, fullchain = self._finish(client, spec, Resumed(order, key_pem, None),
                                              deadline)
        self.log(f"{spec.name}: checking the certificate against its key and names")
        info = verify_issued(fullchain, key_pem, spec.domains)
        # The new pair becomes current, but the open order stays recorded until
        # apply has written the state: a crash in between resumes the (now
        # valid) order, downloads the same certificate and records it.
        self.keystore.store_current(spec.name, key_pem, fullchain)
        self.log(f"{spec.name}: issued serial {info.serial} by {info.issuer_cn or info.issuer}")
        crashpoint("after-download")
        try:
            ari_id: str | None = ari_cert_id(fullchain.decode("ascii"))
        except (CertplanError, ValueError):
            ari_id = None
        return Issued(key_pem=key_pem, fullchain_pem=fullchain, ca=endpoint,
                      account_url=client.account_url or "", info=info, ari_id=ari_id,
                      notes=notes)

    def _finish(self, client: AcmeClient, spec: ResolvedSpec, job: Resumed,
                deadline: float) -> tuple[bytes, bytes]:
        """Prove control, finalize and download (unless done already): (key, full chain)."""
        from certplan.ca import choose_chain

        chains = job.chains
        if chains is None:
            solve(client, job.order, spec, deadline, self.validator_args, self.log)
            self.log(f"{spec.name}: finalizing order {job.order.url}, then downloading")
            chains = client.finalize(job.order, deadline)
        return job.key_pem, choose_chain(chains, spec.preferred_chain).encode("ascii")

    def _order(self, client: AcmeClient, endpoint: CaEndpoint, spec: ResolvedSpec,
               record: CertRecord | None) -> tuple[Order, bytes, list[str]]:
        self._check_profile(client, endpoint, spec)
        key_pem = self._key_for(spec)
        csr_pem = make_csr(_load(key_pem), spec.domains)
        replaces = None
        if record is not None and record.certificate is not None and record.ca == endpoint.name \
                and client.meta.renewal_info:
            replaces = record.certificate.ari_id
        notes: list[str] = []
        self.log(f"{spec.name}: ordering {', '.join(spec.domains)} from CA {endpoint.name}")
        order = self._new_order(client, csr_pem, spec, replaces, notes)
        # The key first, then the record that points to it: a crash in between
        # leaves a key no record names, which the next order overwrites.
        self.keystore.store_pending_key(spec.name, key_pem)
        self.on_order(spec.name, endpoint.name, order.url, csr_pem)
        self.log(f"{spec.name}: order {order.url} for {', '.join(spec.domains)}")
        crashpoint("after-order")
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


def _load(key_pem: bytes) -> Any:
    from certplan.model.crypto import load_key

    return load_key(key_pem)


def _key_type(key_pem: bytes) -> str:
    from certplan.model.crypto import describe_key

    return describe_key(_load(key_pem))
