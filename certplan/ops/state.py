"""`certplan state pull|push|migrate`: move the whole state between a state folder
and the postgres backend, keeping its lineage and serial.

Both directions refuse to overwrite a different lineage (another state
altogether) or a store that is ahead of the source (changes the source does not
have); copying what is already there changes nothing. The target is held under
its exclusive lock while it is compared and written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from certplan.model.errors import CertplanError, InputError, StateError
from certplan.model.project import Project
from certplan.model.records import State, StateMeta
from certplan.ops.state_files import write_folder
from certplan.store.backends import open_state_backend
from certplan.store.base import StateBackend
from certplan.store.files import FilesBackend
from certplan.store.postgres import PostgresBackend

TARGETS = ("postgres", "files")


@dataclass(frozen=True)
class Moved:
    source: str
    target: str
    records: int
    meta: StateMeta
    changed: bool


def pull(project: Project, folder: Path, lock_timeout: float = 0.0) -> Moved:
    """The configured backend's state into `folder` (default: the state folder)."""
    source = open_state_backend(project)
    if isinstance(source, FilesBackend) and _same(source.folder, folder):
        raise CertplanError(f"{folder} is the state folder of the configured files backend: "
                            f"there is nothing to pull")
    return _to_folder(source, folder, lock_timeout)


def push(project: Project, folder: Path, lock_timeout: float = 0.0) -> Moved:
    """A state folder (default: the project's) into the configured backend."""
    if not folder.is_dir():  # its lock would create it (and a lock file in it)
        raise CertplanError(f"state push {folder}: no such folder")
    target = open_state_backend(project)
    if not isinstance(target, PostgresBackend):
        raise CertplanError('`state push` copies a state folder into the configured backend, '
                            'and [state] backend is "files": set backend = "postgres" (or run '
                            '`certplan state migrate --to postgres`)')
    return _to_postgres(FilesBackend(folder), target, lock_timeout)


def migrate(project: Project, to: str, lock_timeout: float = 0.0) -> Moved:
    """The state folder into postgres (`to="postgres"`) or back (`to="files"`); the
    database is the one [state] dsn and schema name, whichever backend is set now."""
    if to not in TARGETS:
        raise CertplanError(f"--to {to!r}: choose postgres or files")
    database = PostgresBackend.for_project(project)
    folder = FilesBackend(project.state_dir)
    if to == "postgres":
        return _to_postgres(folder, database, lock_timeout)
    return _to_folder(database, project.state_dir, lock_timeout)


# -- the two directions -----------------------------------------------------------------------

def _to_postgres(source: FilesBackend, target: PostgresBackend, lock_timeout: float) -> Moved:
    # no apply on the folder or on the database meanwhile
    with source.lock(lock_timeout), target.lock(lock_timeout):
        state = _source_state(source)
        current = _loaded(target.load())
        assert state.meta is not None
        if _same_state(current, state):
            return Moved(source.describe(), target.describe(), len(state.records), state.meta,
                         False)
        refuse_overwrite(current, state, target.describe(), source.describe())
        meta = target.replace_state(state, current.meta)
    return Moved(source.describe(), target.describe(), len(state.records), meta, True)


def _to_folder(source: StateBackend, folder: Path, lock_timeout: float) -> Moved:
    state = _source_state(source)  # one consistent read
    assert state.meta is not None
    target = FilesBackend(folder)
    with target.lock(lock_timeout):
        current = _loaded(target.load())
        if _same_state(current, state):
            return Moved(source.describe(), target.describe(), len(state.records), state.meta,
                         False)
        refuse_overwrite(current, state, target.describe(), source.describe())
        write_folder(folder, state, current)
    return Moved(source.describe(), target.describe(), len(state.records), state.meta, True)


def refuse_overwrite(current: State, source: State, target_name: str, source_name: str) -> None:
    """Raise StateError unless `current` (the target) may be replaced by `source`."""
    assert source.meta is not None
    if current.meta is None:
        if current.records:
            raise StateError(f"{target_name} holds records but no lineage and serial: "
                             f"refusing to overwrite it; empty it first")
        return
    if current.lineage != source.lineage:
        raise StateError(f"{target_name} holds another state (lineage {current.lineage}) than "
                         f"{source_name} (lineage {source.lineage}): refusing to overwrite "
                         f"it; pull it into an empty folder to compare, or empty it first")
    if current.serial > source.serial:
        raise StateError(f"{target_name} is at serial {current.serial}, ahead of "
                         f"{source_name} (serial {source.serial}): it holds changes the "
                         f"source does not; refusing to overwrite them (pull them first)")


def _source_state(source: StateBackend) -> State:
    state = _loaded(source.load())
    if state.meta is None:
        raise CertplanError(f"{source.describe()} holds no state yet (no lineage): nothing "
                            f"to copy")
    return state


def _loaded(state: State) -> State:
    # a record that does not parse (State.broken) too: copied without it, the
    # target would lose it (push replaces every row, pull leaves a stale file)
    if state.all_problems():
        raise InputError(state.all_problems())
    return state


def _same_state(a: State, b: State) -> bool:
    return a.meta == b.meta and a.records == b.records


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()
