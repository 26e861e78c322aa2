"""The state-backend protocol: what plan, apply and the commands may ask of state.

A backend keeps one CertRecord per certificate and a state-wide StateMeta
(lineage fixed when state is first written, serial grown by one per change).
Every change is a compare-and-swap on that serial: the writer says which serial
it read, and a backend that holds another one raises StateConflict and changes
nothing, so no update is ever lost. `apply` holds `run_lock()` for the whole run
and `lock_certificate(name)` while it works on one certificate; the other writers
(revoke, account changes, state push) hold the exclusive `lock()`.

The files backend's run lock is its one exclusive folder lock, so its certificate
locks are no-ops. A shared backend (postgres) lets several runners apply at once:
its run lock is shared (it only keeps out an exclusive `lock()`), each certificate
is locked by one runner at a time, and a runner that finds one locked skips it
(CertificateBusy). While a handle holds `lock_certificate(name)`, its writes of
`name` compare that record with what the handle last loaded instead of the
state-wide serial (the lock proves no other runner writes it; other runners'
writes of other certificates are no conflict); every write still grows the serial.

Backends are registered by name in `certplan.store.backends`; every registered
backend runs through tests/contract/test_state_backend.py.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from certplan.model.errors import LockError
from certplan.model.project import Project
from certplan.model.records import CertRecord, State, StateMeta


class StateBackend(Protocol):
    def load(self) -> State:
        """Every record and the meta. Problems are collected, never raised and never
        'fixed': those of one record (does not parse, ...) in State.broken under its
        certificate's name, so that only that certificate stops; state-wide ones
        (the meta, the folder) in State.problems."""
        ...

    def write(self, record: CertRecord, expect_serial: int) -> StateMeta:
        """Store `record` (replacing the one of that name) if the state serial is still
        `expect_serial`; return the new meta (serial `expect_serial + 1`). Raises
        StateConflict when the serial differs, StateError when state cannot be written;
        either way the record and the serial are as they were."""
        ...

    def delete(self, name: str, expect_serial: int) -> StateMeta:
        """Forget the record `name` (absent is fine), with the same compare-and-swap."""
        ...

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        """The exclusive writer lock. Waits up to `timeout` seconds, then raises
        LockError naming the holder; released when the block ends, however it ends."""
        ...

    def run_lock(self, timeout: float) -> AbstractContextManager[None]:
        """What `apply` holds for its whole run: the files backend's exclusive lock;
        a shared backend's shared lock (runs do not exclude each other, `lock()` does).
        Raises StateError up front when this handle may read but not write the state."""
        ...

    def lock_certificate(self, name: str, timeout: float) -> AbstractContextManager[None]:
        """Held while one certificate is worked on. Waits up to `timeout` seconds for
        another runner, then raises CertificateBusy naming it; also raises it when
        the record changed since this handle loaded the state (the plan is stale for
        it). A no-op where `run_lock()` is exclusive."""
        ...

    def describe(self) -> str:
        """How messages name this backend, e.g. "state folder /srv/ops/state"."""
        ...


class CertificateBusy(LockError):
    """Another runner works on this certificate, or changed it since this run read
    the state: this run leaves it alone (not a failure: the other runner does it)."""


# How a registered backend is opened: from the project's configuration.
Opener = Callable[[Project], StateBackend]
