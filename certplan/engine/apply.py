"""Carry out a plan: issue, renew, install, remove; record state after each certificate.

Changes run in parallel up to `parallel`. One failing certificate does not stop
the others; each gets an Outcome saying what happened and what was left as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from certplan.core.plan import Action, Change, Plan, current_installs
from certplan.engine.issuance import Issued, Issuer
from certplan.engine.sessions import Sessions
from certplan.installers import INSTALLERS
from certplan.model.crypto import split_chain
from certplan.model.errors import CertplanError
from certplan.model.installed import Material
from certplan.model.project import Desired, Project
from certplan.model.records import CertFacts, CertRecord, InstallRecord, PendingOrder, State
from certplan.store.base import CertificateBusy, StateBackend
from certplan.store.keystore import Keystore

Log = Callable[[str], None]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Outcome:
    name: str
    action: Action
    ok: bool
    detail: str
    left: str = ""


class Applier:
    lock_timeout = 0.0  # seconds to wait for a certificate another runner works on

    def __init__(self, project: Project, state: State, *, store: StateBackend, log: Log,
                 clock: Clock = lambda: datetime.now(UTC), timeout: float = 300.0):
        self.project = project
        self.records = dict(state.records)
        self.store = store
        self.serial = state.serial  # what each write expects (compare-and-swap)
        self.keystore = Keystore(project.keystore_dir)
        self.sessions = Sessions(project, self.keystore)
        self.log = log
        self.clock = clock
        self._write_lock = threading.Lock()
        config = project.config
        validator_args = {
            "http01_port": config.http01.port, "resolvers": list(config.dns.resolvers),
            "providers": _providers(project), "dns": config.dns,
        }
        self.issuer = Issuer(self.sessions, self.keystore, validator_args, log,
                             self._record_order, timeout=timeout)

    # -- running ------------------------------------------------------------------------

    def run(self, plan: Plan, parallel: int = 4) -> list[Outcome]:
        if not plan.changes:
            return []
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            return list(pool.map(self._one, plan.changes))

    def _one(self, change: Change) -> Outcome:
        try:
            with self.store.lock_certificate(change.name, self.lock_timeout):
                if change.action in (Action.ISSUE, Action.RENEW):
                    return self._issue(change)
                if change.action is Action.INSTALL:
                    return self._install_only(change)
                if change.action is Action.REMOVE:
                    return self._remove(change)
                return Outcome(change.name, change.action, True, "nothing to do")
        except CertificateBusy as exc:  # another runner does it: not a failure of this one
            return Outcome(change.name, change.action, True, f"skipped: {exc}")
        except CertplanError as exc:
            return Outcome(change.name, change.action, False, str(exc), self._left(change))
        except Exception as exc:  # a bug must not stop the other certificates
            return Outcome(change.name, change.action, False,
                           f"internal error {type(exc).__name__}: {exc}", self._left(change))

    def _left(self, change: Change) -> str:
        rec = self.records.get(change.name)
        resume = "; the open order is recorded and the next apply resumes it" \
            if rec is not None and rec.pending_order is not None else "; state unchanged"
        if rec is not None and rec.certificate is not None:
            return f"serial {rec.certificate.serial} stays installed" + resume
        return "nothing installed" + resume

    # -- state --------------------------------------------------------------------------

    def _save(self, record: CertRecord) -> None:
        with self._write_lock:
            self.serial = self.store.write(record, self.serial).serial
            self.records[record.name] = record

    def _record_order(self, name: str, ca: str, order_url: str, csr_pem: bytes) -> None:
        """Called once an order exists (its key already in the keystore): the next
        run resumes it, also after a crash."""
        desired = self.project.by_name()[name]
        directory = desired.directories[desired.spec.ca.index(ca)]
        pending = PendingOrder(url=order_url, ca=ca, directory=directory, created_at=self.clock(),
                               csr_pem=csr_pem.decode("ascii"))
        rec = self.records.get(name)
        if rec is None:
            rec = self._base_record(desired, ca, directory, None)
        self._save(rec.model_copy(update={"pending_order": pending}))

    def _base_record(self, desired: Desired, ca: str, directory: str,
                     old: CertRecord | None) -> CertRecord:
        spec = desired.spec
        return CertRecord(
            name=spec.name, domains=list(spec.domains), key_type=spec.key, ca=ca,
            ca_directory=directory, profile=spec.profile,
            created_at=old.created_at if old else self.clock(), on_remove=spec.on_remove,
            installs=current_installs(spec.install, old.installs) if old else [],
            renewals=old.renewals if old else 0)

    # -- actions ------------------------------------------------------------------------

    def _issue(self, change: Change) -> Outcome:
        desired = self.project.by_name()[change.name]
        old = self.records.get(change.name)
        issued = self.issuer.obtain(desired.spec, old)
        record = self._issued_record(desired, issued, old)
        self._save(record)
        self.keystore.clear_pending(change.name)  # its key only now: see Issuer._obtain_from
        installs, failures = self._install(desired, issued.key_pem, issued.fullchain_pem,
                                           range(len(desired.spec.install)), record)
        record = record.model_copy(update={"installs": installs})
        self._save(record)
        detail = f"serial {issued.info.serial}, expires {issued.info.not_after:%Y-%m-%d}"
        detail += "".join(f"; {n}" for n in issued.notes)
        if failures:
            return Outcome(change.name, change.action, False, detail + "; " + failures,
                           "new certificate kept in the keystore; the previous files stay "
                           "installed; the next apply installs again")
        return Outcome(change.name, change.action, True, detail)

    def _issued_record(self, desired: Desired, issued: Issued,
                       old: CertRecord | None) -> CertRecord:
        base = self._base_record(desired, issued.ca.name, issued.ca.directory, old)
        info = issued.info
        facts = CertFacts(serial=info.serial, not_before=info.not_before,
                          not_after=info.not_after, issuer=info.issuer,
                          fingerprint_sha256=info.fingerprint,
                          chain_pem=issued.fullchain_pem.decode("ascii"),
                          ari_id=issued.ari_id, issued_at=self.clock())
        renewals = base.renewals + (1 if old is not None and old.certificate else 0)
        return base.model_copy(update={"certificate": facts, "account_url": issued.account_url,
                                       "pending_order": None, "revoked": None,
                                       "renewals": renewals})

    def _install(self, desired: Desired, key_pem: bytes, fullchain: bytes,
                 which: range | tuple[int, ...],
                 record: CertRecord) -> tuple[list[InstallRecord], str]:
        leaf, chain = split_chain(fullchain)
        material = Material(key_pem, leaf, chain, fullchain, _sni_name(desired.spec.domains))
        targets = desired.spec.install
        installs: list[InstallRecord | None] = list(current_installs(targets, record.installs))
        installs = (installs + [None] * len(targets))[:len(targets)]
        failures = []
        for i in which:
            target = targets[i]
            try:
                result = INSTALLERS.get(target.type)().install(target, material)
                installs[i] = InstallRecord(installer=target.type, digest=target.digest(),
                                            fingerprint=result.fingerprint,
                                            parts=dict(result.parts), installed_at=self.clock())
                if result.changed:
                    self.log(f"{desired.spec.name}: install[{i}] written; ran "
                             f"{', '.join(result.ran) or 'no commands'}")
            except CertplanError as exc:
                installs[i] = InstallRecord(installer=target.type, digest=target.digest(),
                                            status="failed", installed_at=self.clock())
                failures.append(f"install[{i}] failed: {exc}")
        return [r for r in installs if r is not None], "; ".join(failures)

    def _install_only(self, change: Change) -> Outcome:
        desired = self.project.by_name()[change.name]
        record = self.records[change.name]
        current = self.keystore.load_current(change.name)
        if current is None:
            raise CertplanError(f"{change.name}: the keystore has no current key and "
                                f"certificate; run `certplan apply --replace {change.name}`")
        installs, failures = self._install(desired, current[0], current[1],
                                           change.install_targets, record)
        self._save(record.model_copy(update={"installs": installs}))
        if failures:
            return Outcome(change.name, change.action, False, failures,
                           "previous files put back")
        return Outcome(change.name, change.action, True,
                       f"reinstalled {len(change.install_targets)} target(s) from the keystore")

    def _remove(self, change: Change) -> Outcome:
        """State (from git) proposes; the keystore and the files on the host decide."""
        record = self.records[change.name]
        where = f"state record {change.name!r} in the {self.store.describe()}"
        current = self.keystore.load_current(change.name)
        done = []
        if change.revoke and record.certificate is not None:
            from certplan.engine.revocation import proven_record, revoke_at_ca

            proven = proven_record(record, current, where)  # before anything is done
            client, _ = self.sessions.client(record.ca)
            done.append(revoke_at_ca(client, proven, "cessationOfOperation"))
        if change.delete_files:
            parts = [p for inst in record.installs for p in inst.parts]
            if parts and current is None:
                raise CertplanError(
                    f"{where}, field on_remove.delete_files: the keystore holds no "
                    f"certificate for {change.name!r}, so nothing proves certplan wrote "
                    f"{', '.join(sorted(parts))}; nothing deleted (remove the record by "
                    f"hand once you have checked it)")
            material = _material(current)
            for inst in record.installs:
                done += INSTALLERS.get(inst.installer)().remove(inst, material).notes()
        archived = self.keystore.archive(change.name)
        with self._write_lock:
            self.serial = self.store.delete(change.name, self.serial).serial
            self.records.pop(change.name, None)
        done.append(f"keystore archived to {archived}" if archived else "no keystore entry")
        return Outcome(change.name, change.action, True, "; ".join(done))


def _material(current: tuple[bytes, bytes] | None) -> Material | None:
    if current is None:
        return None
    leaf, chain = split_chain(current[1])
    return Material(current[0], leaf, chain, current[1])


def _providers(project: Project) -> dict[str, object]:
    from certplan.providers import PROVIDERS

    return {name: PROVIDERS.get(entry.type)(name, entry.config)
            for name, entry in project.config.providers.items()}


def _sni_name(domains: list[str]) -> str:
    """The name a verifying handshake asks for: the first name that is not a wildcard."""
    plain = [d for d in domains if not d.startswith("*.")]
    return plain[0] if plain else "certplan-verify." + domains[0][2:]
