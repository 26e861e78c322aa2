"""State backends registered by name, and the one way to open the configured one.

`[state] backend = "files"` in certplan.toml names the backend (the default);
"postgres" keeps state in a PostgreSQL database (psycopg 3, the `postgres`
extra, imported only when that backend is opened).
A new backend is one module in this folder implementing `StateBackend`
(`certplan.store.base`), one `register` line below, and one fixture in
tests/contract/test_state_backend.py.
"""

from __future__ import annotations

from certplan.model.errors import InputError, Problem, RegistryError
from certplan.model.project import CONFIG_FILE, Project
from certplan.model.registry import Registry
from certplan.store.base import Opener, StateBackend
from certplan.store.files import FilesBackend

STATE_BACKENDS: Registry[Opener] = Registry("state backend")


def _open_postgres(project: Project) -> StateBackend:
    from certplan.store.postgres import PostgresBackend

    return PostgresBackend.for_project(project)


STATE_BACKENDS.register("files", FilesBackend.for_project)
STATE_BACKENDS.register("postgres", _open_postgres)


def open_state_backend(project: Project) -> StateBackend:
    """The backend `[state] backend` names, opened for `project`. An unknown name is
    a problem in certplan.toml (InputError), reported like every other one."""
    name = project.config.state.backend
    try:
        opener = STATE_BACKENDS.get(name)
    except RegistryError as exc:
        raise InputError([Problem(CONFIG_FILE, "state.backend", str(exc))]) from None
    return opener(project)
