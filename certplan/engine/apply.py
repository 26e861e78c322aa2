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
from certplan.engine.crashpoints import crashpoint
from certplan.engine.issuance import Issued, Issuer
from certplan.engine.sessions import Sessions
from certplan.installers import INSTALLERS
from certplan.model.crypto import cert_info, load_key, split_chain, verify_issued
from certplan.model.errors import CertplanError
from certplan.model.installed import Material, sni_name
from certplan.model.project import Desired, Project
from certplan.model.records import CertFacts, CertRecord, InstallRecord, PendingOrder, State
from certplan.model.spec import InstallTarget
from certplan.store.base import CertificateBusy, StateBackend
from certplan.store.keystore import Keystore
from certplan.validators import StandalonePool

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
                 clock: Clock = lambda: datetime.now(UTC), timeout: float = 300.0,
                 ignore_rate_limit: bool = False, trace: Log | None = None):
        self.project = project
        self.trace = trace  # `apply -v`: requests to the CA and DNS, as "NAME: ..." lines
        self.records = dict(state.records)
        self.store = store
        self.serial = state.serial  # what each write expects (compare-and-swap)
        self.keystore = Keystore(project.keystore_dir)
        self.sessions = Sessions(project, self.keystore, clock=clock,
                                 ignore_rate_limit=ignore_rate_limit, log=log)
        self.log = log
        self.clock = clock
        self._write_lock = threading.Lock()
        self.parallel = 4
        config = project.config
        # one standalone http-01 server per listen address for the whole run
        self.standalone = StandalonePool()
        validator_args = {
            "http01_port": config.http01.port, "resolvers": list(config.dns.resolvers),
            "self_check_timeout": config.http01.self_check_timeout,
            "providers": _providers(project), "dns": config.dns, "standalone": self.standalone,
        }
        self.issuer = Issuer(self.sessions, self.keystore, validator_args, log,
                             self._record_order, timeout=timeout, on_drop=self._forget_order)

    # -- running ------------------------------------------------------------------------

    def run(self, plan: Plan, parallel: int = 4) -> list[Outcome]:
        if not plan.changes:
            return []
        self.parallel = max(1, parallel)  # also the install targets of one certificate at once
        try:
            with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
                return list(pool.map(self._one, plan.changes))
        finally:
            self.standalone.close()

    def _one(self, change: Change) -> Outcome:
        from certplan.model.trace import trace_scope

        trace = self.trace
        sink = None if trace is None else (lambda text: trace(f"{change.name}: {text}"))
        with trace_scope(sink):  # in this worker thread: this certificate's requests
            return self._one_traced(change)

    def _one_traced(self, change: Change) -> Outcome:
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
        resume = "; the open order is recorded: the next apply resumes it if it still matches" \
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
                               csr_pem=csr_pem.decode("ascii"), profile=desired.spec.profile)
        rec = self.records.get(name)
        if rec is None:
            rec = self._base_record(desired, ca, directory, None)
        self._save(rec.model_copy(update={"pending_order": pending}))

    def _forget_order(self, name: str) -> None:
        """The recorded open order is not to be finished (engine.resume said why)."""
        rec = self.records.get(name)
        if rec is not None and rec.pending_order is not None:
            self._save(rec.model_copy(update={"pending_order": None}))

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
        crashpoint("after-state")
        self.keystore.clear_pending(change.name)  # its key only now: see Issuer._obtain_from
        # The record above keeps each install at the serial it had: until the installs
        # below are recorded, the plan sees them as not done (also after a crash).
        installs, failures = self._install(desired, issued.key_pem, issued.fullchain_pem,
                                           range(len(desired.spec.install)), record,
                                           str(self.keystore.cert_dir(change.name) / "current"))
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
        was = old.certificate.serial if old is not None and old.certificate else ""
        installs = [done if done.serial is not None else done.model_copy(update={"serial": was})
                    for done in base.installs]
        return base.model_copy(update={"certificate": facts, "account_url": issued.account_url,
                                       "pending_order": None, "revoked": None,
                                       "renewals": renewals, "installs": installs})

    def _install(self, desired: Desired, key_pem: bytes, fullchain: bytes,
                 which: range | tuple[int, ...], record: CertRecord,
                 source: str, forced: tuple[int, ...] = ()) -> tuple[list[InstallRecord], str]:
        """Install `which` targets; each record says the serial it installed, and is
        made only once the installer's check, reload and verify succeeded. A target
        not yet installed with this serial is installed with force (check, reload
        and verify run even when the bytes on disk are already the new ones); so is
        each of `forced` (its endpoint serves another certificate)."""
        targets = desired.spec.install
        installs: list[InstallRecord | None] = list(current_installs(targets, record.installs))
        installs = (installs + [None] * len(targets))[:len(targets)]
        try:  # before anything is written
            serial = checked_pair(key_pem, fullchain, source)
        except CertplanError as exc:
            failed = [self._failed(targets[i], None) for i in which]
            for i, rec in zip(which, failed, strict=True):
                installs[i] = rec
            return [r for r in installs if r is not None], f"nothing installed: {exc}"
        leaf, chain = split_chain(fullchain)
        material = Material(key_pem, leaf, chain, fullchain, sni_name(desired.spec.domains))
        failures: list[tuple[int, str]] = []

        def one(i: int) -> None:
            target, done = targets[i], installs[i]
            self.log(f"{desired.spec.name}: installing install[{i}] ({target.type})")
            # (serial None: recorded before serials were; trusted, as the plan does)
            force = done is None or done.status != "installed" \
                or done.serial not in (None, serial) or i in forced
            try:
                result = INSTALLERS.get(target.type)().install(target, material, force=force)
            except Exception as exc:  # the installer put back what was there
                installs[i] = self._failed(target, serial)
                why = str(exc) if isinstance(exc, CertplanError) \
                    else f"internal error {type(exc).__name__}: {exc}"
                failures.append((i, f"install[{i}] failed: {why}"))
                return
            installs[i] = InstallRecord(installer=target.type, digest=target.digest(),
                                        serial=serial, fingerprint=result.fingerprint,
                                        parts=dict(result.parts), installed_at=self.clock())
            if result.changed or result.ran:
                self.log(f"{desired.spec.name}: install[{i}] "
                         f"{'written' if result.changed else 'unchanged on disk'}; ran "
                         f"{', '.join(result.ran) or 'no commands'}")

        # an installer that declares `concurrent` (ssh: one host each) runs its targets at
        # once; others (local files, often one server's reload) one after the other
        together = [i for i in which
                    if getattr(INSTALLERS.get(targets[i].type), "concurrent", False)]
        for i in (i for i in which if i not in together):
            one(i)
        if together:
            with ThreadPoolExecutor(max_workers=min(len(together), self.parallel)) as pool:
                list(pool.map(one, together))
        return [r for r in installs if r is not None], "; ".join(f for _, f in sorted(failures))

    def _failed(self, target: InstallTarget, serial: str | None) -> InstallRecord:
        return InstallRecord(installer=target.type, digest=target.digest(), status="failed",
                             serial=serial, installed_at=self.clock())

    def _install_only(self, change: Change) -> Outcome:
        desired = self.project.by_name()[change.name]
        record = self.records[change.name]
        current = self.keystore.load_current(change.name)
        source = str(self.keystore.cert_dir(change.name) / "current")
        if current is None:
            raise CertplanError(f"{change.name}: the keystore has no current key and "
                                f"certificate; run `certplan apply --replace {change.name}`")
        held = cert_serial(current[1], source)
        if record.certificate is not None and held != record.certificate.serial:
            raise CertplanError(
                f"{change.name}: {source} holds serial {held}, state records serial "
                f"{record.certificate.serial}; nothing installed (run `certplan apply "
                f"--replace {change.name}`)")
        installs, failures = self._install(desired, current[0], current[1],
                                           change.install_targets, record, source,
                                           change.force_targets)
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
            # only the places the plan names: it keeps those a wanted certificate installs
            wanted = set(change.delete_paths)
            installs = [inst.model_copy(update={"parts": {p: h for p, h in inst.parts.items()
                                                          if p in wanted}})
                        for inst in record.installs]
            parts = [p for inst in installs for p in inst.parts]
            if parts and current is None:
                raise CertplanError(
                    f"{where}, field on_remove.delete_files: the keystore holds no "
                    f"certificate for {change.name!r}, so nothing proves certplan wrote "
                    f"{', '.join(sorted(parts))}; nothing deleted (remove the record by "
                    f"hand once you have checked it)")
            material = _material(current)
            for inst in installs:
                if inst.parts:
                    done += INSTALLERS.get(inst.installer)().remove(inst, material).notes()
            done += [f"kept {p}: a wanted certificate installs it"
                     for inst in record.installs for p in sorted(inst.parts) if p not in wanted]
        archived = self.keystore.archive(change.name)
        with self._write_lock:
            self.serial = self.store.delete(change.name, self.serial).serial
            self.records.pop(change.name, None)
        done.append(f"keystore archived to {archived}" if archived else "no keystore entry")
        return Outcome(change.name, change.action, True, "; ".join(done))


def checked_pair(key_pem: bytes, fullchain: bytes, source: str) -> str:
    """The serial of `fullchain`'s leaf, once the key is proven readable and its
    pair (CertplanError naming `source`, a folder with key.pem and fullchain.pem,
    otherwise): checked before anything is written, so that a damaged keystore key
    never reaches a server."""
    key = load_key(key_pem, source=f"{source}/key.pem")
    try:
        return verify_issued(fullchain, key, []).serial
    except (CertplanError, ValueError) as exc:
        raise CertplanError(f"{source}/fullchain.pem: {exc}") from None


def cert_serial(fullchain: bytes, source: str) -> str:
    try:
        return cert_info(fullchain).serial
    except ValueError:
        raise CertplanError(f"{source}/fullchain.pem: the certificate cannot be "
                            f"read") from None


def _material(current: tuple[bytes, bytes] | None) -> Material | None:
    if current is None:
        return None
    leaf, chain = split_chain(current[1])
    return Material(current[0], leaf, chain, current[1])


def _providers(project: Project) -> dict[str, object]:
    from certplan.providers import PROVIDERS

    return {name: PROVIDERS.get(entry.type)(name, entry.config)
            for name, entry in project.config.providers.items()}
