"""State through the configured backend, for tests that need some state in place."""

from __future__ import annotations

from certplan.model.project import Project
from certplan.model.records import CertRecord, State, StateMeta
from certplan.store.backends import open_state_backend


def state_of(project: Project) -> State:
    return open_state_backend(project).load()


def save_record(project: Project, record: CertRecord) -> StateMeta:
    """Write `record` as the next change of the state (compare-and-swap on its serial)."""
    backend = open_state_backend(project)
    return backend.write(record, backend.load().serial)
