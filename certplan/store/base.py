"""The state-backend protocol: what plan, apply and the commands may ask of state.

A backend keeps one CertRecord per certificate and a state-wide StateMeta
(lineage fixed when state is first written, serial grown by one per change).
Every change is a compare-and-swap on that serial: the writer says which serial
it read, and a backend that holds another one raises StateConflict and changes
nothing, so no update is ever lost. Writers also hold `lock()` for the whole run,
so two applies never race; the compare-and-swap catches anything that did not.

Backends are registered by name in `certplan.store.backends`; every registered
backend runs through tests/contract/test_state_backend.py.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

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

    def describe(self) -> str:
        """How messages name this backend, e.g. "state folder /srv/ops/state"."""
        ...


# How a registered backend is opened: from the project's configuration.
Opener = Callable[[Project], StateBackend]
