"""The "postgres" state backend: records and the state-wide lineage and serial in
tables (`certplan.store.postgres_sql`), locks as advisory locks on the runner's
session (`certplan.store.postgres_locks`).

Every write is one transaction: the meta row's serial is compared and grown in
the same UPDATE (a concurrent writer waits for the row and then finds another
serial: StateConflict, nothing written). Reads are one read-only snapshot, so a
role with SELECT alone can plan, list and show, and never writes anything once
the schema exists. Several runners apply at once: each holds the shared run
lock, and each certificate is locked by one of them at a time.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from certplan.model.errors import (
    InputError,
    LockError,
    Problem,
    SecretError,
    StateConflict,
    StateError,
    problems_from,
)
from certplan.model.gcpause import gc_paused
from certplan.model.project import CONFIG_FILE, Project
from certplan.model.records import CertRecord, State, StateMeta
from certplan.model.secrets import SecretRef
from certplan.store.base import CertificateBusy
from certplan.store.postgres_locks import Session, lock_key
from certplan.store.postgres_sql import composed, connect, db_errors, prepare

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg.sql import Composed

STATE_LOCK = "\0state"  # no certificate has this name


class PostgresBackend:
    def __init__(self, dsn: SecretRef, schema: str = "certplan"):
        self.dsn = dsn
        self.schema = schema
        self._mutex = threading.RLock()
        self._session: Session | None = None
        self._q: dict[str, Composed] = {}
        self._where: str | None = None
        self._seen: dict[str, int] = {}  # record -> the serial that wrote it, at load()
        self._held: set[str] = set()  # certificates this handle has locked

    @classmethod
    def for_project(cls, project: Project) -> PostgresBackend:
        settings = project.config.state
        if settings.dsn is None:
            raise InputError([Problem(CONFIG_FILE, "state.dsn", 'field required for backend '
                                                               '"postgres"')])
        return cls(settings.dsn, settings.pg_schema)

    def describe(self) -> str:
        if self._where is None:
            self._where = f'PostgreSQL schema "{self.schema}" ({self._database()})'
        return self._where

    def _database(self) -> str:
        try:
            from psycopg.conninfo import conninfo_to_dict

            info = conninfo_to_dict(self.dsn.resolve())
        except Exception:  # noqa: BLE001 - described by its reference until it resolves
            return f"[state] dsn from {self.dsn.describe()}"
        host = info.get("host") or info.get("hostaddr") or "local socket"
        port = f":{info['port']}" if info.get("port") else ""
        return f"database {info.get('dbname') or info.get('user') or '?'} on {host}{port}"

    # -- the session ------------------------------------------------------------------------

    def _open(self) -> Session:
        with self._mutex:
            if self._session is None:
                try:
                    dsn = self.dsn.resolve()
                except SecretError as exc:
                    raise StateError(f"{CONFIG_FILE} [state] dsn: {exc}") from None
                conn = connect(dsn, self.describe())
                prepare(conn, self.schema, self.describe())
                self._q = composed(self.schema)
                self._session = Session(conn, self.describe(), self._mutex)
            return self._session

    @contextmanager
    def _transaction(self, writing: bool) -> Iterator[Connection[Any]]:
        session = self._open()
        with self._mutex, db_errors(self.describe(), writing), session.conn.transaction():
            yield session.conn

    # -- reading ----------------------------------------------------------------------------

    def load(self) -> State:
        with self._transaction(writing=False) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            meta_row = conn.execute(self._q["meta"]).fetchone()
            rows = conn.execute(self._q["records"]).fetchall()
        rows.sort()  # by name, as the files backend lists them
        state = State(meta=None)
        if meta_row is not None and meta_row[1] is not None:
            try:
                state.meta = StateMeta(format_version=meta_row[0], lineage=meta_row[1],
                                       serial=meta_row[2])
            except ValidationError as exc:  # e.g. written by a newer certplan
                state.problems += problems_from(f"{self.describe()}, table meta", exc,
                                                unknown_key=None)
        with gc_paused():
            for name, text, _ in rows:
                record = self._parse(name, text, state.problems)
                if record is not None:
                    state.records[name] = record
        self._seen = {name: written for name, _, written in rows}
        return state

    def _parse(self, name: str, text: str, problems: list[Problem]) -> CertRecord | None:
        try:
            record = CertRecord.model_validate_json(text)
        except ValidationError as exc:
            problems += problems_from(self._row(name), exc, unknown_key=None)
            return None
        if record.name != name:
            problems.append(Problem(self._row(name), "name",
                                    f"{record.name!r} does not match the row"))
            return None
        return record

    def _row(self, name: str) -> str:
        return f"{self.describe()}, record {name!r}"

    # -- writing ----------------------------------------------------------------------------

    def write(self, record: CertRecord, expect_serial: int) -> StateMeta:
        return self._change(record.name, record.model_dump_json(), expect_serial)

    def delete(self, name: str, expect_serial: int) -> StateMeta:
        return self._change(name, None, expect_serial)

    def _change(self, name: str, data: str | None, expect_serial: int) -> StateMeta:
        lineage = str(uuid.uuid4())  # used when this is the first write
        with self._transaction(writing=True) as conn:
            if name in self._held:
                # the certificate lock is ours: compare this record, not the serial
                row = conn.execute(self._q["bump"], (lineage,)).fetchone()
                self._check_unchanged(conn, name)
            else:
                row = conn.execute(self._q["bump_if"], (lineage, expect_serial)).fetchone()
                if row is None:
                    found = conn.execute(self._q["meta"]).fetchone()
                    raise StateConflict(self.describe(), expect_serial,
                                        int(found[2]) if found else 0)
            assert row is not None
            meta = StateMeta(format_version=row[0], lineage=row[1], serial=row[2])
            if data is None:
                conn.execute(self._q["delete"], (name,))
            else:
                conn.execute(self._q["upsert"], (name, data, meta.serial))
        if data is None:
            self._seen.pop(name, None)
        else:
            self._seen[name] = meta.serial
        return meta

    def _check_unchanged(self, conn: Connection[Any], name: str) -> None:
        row = conn.execute(self._q["version_of"], (name,)).fetchone()
        found = int(row[0]) if row else 0
        if found != self._seen.get(name, 0):
            raise StateConflict(f"{self.describe()}, record {name!r}",
                                self._seen.get(name, 0), found)

    def replace_state(self, state: State, expect: StateMeta | None) -> StateMeta:
        """Make the stored state exactly `state` (its lineage and serial too), if the
        store still holds `expect` (None: empty). For `state push` and `migrate`."""
        assert state.meta is not None
        with self._transaction(writing=True) as conn:
            row = conn.execute(self._q["meta_for_update"]).fetchone()
            found = None if row is None or row[1] is None else \
                StateMeta(format_version=row[0], lineage=row[1], serial=row[2])
            if found != expect:
                raise StateConflict(self.describe(), expect.serial if expect else 0,
                                    found.serial if found else 0)
            conn.execute(self._q["delete_all"])
            with conn.cursor() as cur:
                cur.executemany(self._q["insert"], [
                    (name, rec.model_dump_json(), state.meta.serial)
                    for name, rec in sorted(state.records.items())])
            meta = state.meta
            conn.execute(self._q["set_meta"], (meta.format_version, meta.lineage, meta.serial))
        return meta

    # -- locks ------------------------------------------------------------------------------

    def _check_writer(self) -> None:
        with self._transaction(writing=True) as conn:
            tables = [f'"{self.schema}".{t}' for t in ("meta", "records")]
            row = conn.execute(self._q["may_write"], tables).fetchone()
        if not (row and row[0]):
            raise StateError(f"{self.describe()}: this role may read but not write the "
                             f"state (a read-only DSN is for plan, list and show); apply, "
                             f"revoke and state push need a role that may write")

    def lock(self, timeout: float) -> AbstractContextManager[None]:
        return self._state_lock(timeout, shared=False)

    def run_lock(self, timeout: float) -> AbstractContextManager[None]:
        return self._state_lock(timeout, shared=True)

    @contextmanager
    def _state_lock(self, timeout: float, shared: bool) -> Iterator[None]:
        self._check_writer()

        def refused(holder: str, waited: float) -> LockError:
            what = "holds the state lock" if shared else "is applying or changing the state"
            return LockError(f"another certplan {what} of {self.describe()}: {holder}; "
                             f"waited {waited:g}s (use --lock-timeout SECONDS to wait longer)")

        with self._open().hold(lock_key(self.schema, STATE_LOCK), shared=shared,
                               timeout=timeout, refused=refused):
            yield

    @contextmanager
    def lock_certificate(self, name: str, timeout: float) -> Iterator[None]:
        def refused(holder: str, waited: float) -> LockError:
            hint = f"; waited {waited:g}s" if waited else "; --lock-timeout SECONDS waits for it"
            return CertificateBusy(f"another runner works on it: {holder}{hint}")

        with self._open().hold(lock_key(self.schema, name), shared=False, timeout=timeout,
                               refused=refused):
            with self._transaction(writing=False) as conn:
                row = conn.execute(self._q["version_of"], (name,)).fetchone()
            found = int(row[0]) if row else 0
            if found != self._seen.get(name, 0):
                raise CertificateBusy(
                    f"another runner changed it since this run read the state (written at "
                    f"serial {found}); `certplan plan` shows what is left")
            self._held.add(name)
            try:
                yield
            finally:
                self._held.discard(name)
