"""The postgres backend's connection, tables and migrations.

Tables in the configured schema (created on first use by a role that may):
`schema_version` (one row: the table layout, for migrations), `meta` (one row:
format_version, lineage, serial; lineage NULL until the first write) and
`records` (name, the record as JSON text, the serial that last wrote it).

psycopg is imported here and in the backend only, so that the files backend
(the default) needs nothing of it.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from certplan.model.errors import StateError

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg.sql import Composed

SCHEMA_VERSION = 1
INSTALL_HINT = "pip install 'certplan[postgres]'"

# version -> the statements that bring the previous version to it
MIGRATIONS: dict[int, list[str]] = {
    1: [
        "CREATE TABLE {s}.schema_version (version integer NOT NULL)",
        "CREATE TABLE {s}.meta (one boolean PRIMARY KEY DEFAULT true CHECK (one),"
        " format_version integer NOT NULL DEFAULT 1, lineage text,"
        " serial bigint NOT NULL DEFAULT 0)",
        "INSERT INTO {s}.meta DEFAULT VALUES",
        # the record as certplan wrote it (JSON text: read back without a conversion;
        # `record::jsonb` queries it)
        "CREATE TABLE {s}.records (name text PRIMARY KEY, record text NOT NULL,"
        " written_serial bigint NOT NULL)",
    ],
}

QUERIES = {
    "meta": "SELECT format_version, lineage, serial FROM {s}.meta",
    "meta_for_update": "SELECT format_version, lineage, serial FROM {s}.meta FOR UPDATE",
    "records": "SELECT name, record, written_serial FROM {s}.records",
    "bump_if": "UPDATE {s}.meta SET serial = serial + 1, lineage = coalesce(lineage, %s)"
               " WHERE serial = %s RETURNING format_version, lineage, serial",
    "bump": "UPDATE {s}.meta SET serial = serial + 1, lineage = coalesce(lineage, %s)"
            " RETURNING format_version, lineage, serial",
    "version_of": "SELECT written_serial FROM {s}.records WHERE name = %s",
    "upsert": "INSERT INTO {s}.records (name, record, written_serial) VALUES (%s, %s, %s)"
              " ON CONFLICT (name) DO UPDATE SET record = excluded.record,"
              " written_serial = excluded.written_serial",
    "insert": "INSERT INTO {s}.records (name, record, written_serial)"
              " VALUES (%s, %s, %s)",
    "delete": "DELETE FROM {s}.records WHERE name = %s",
    "delete_all": "DELETE FROM {s}.records",
    "set_meta": "UPDATE {s}.meta SET format_version = %s, lineage = %s, serial = %s",
    "may_write": "SELECT has_table_privilege(%s, 'UPDATE')"
                 " AND has_table_privilege(%s, 'INSERT, UPDATE, DELETE')",
}


def runner_name() -> str:
    """How this process names itself to the server (application_name, at most 63
    bytes): the lock holder's host and PID, readable by every other runner."""
    return f"certplan {platform.node()[:40]} pid {os.getpid()}"


def holder_from(application_name: str | None, session_pid: int) -> str:
    parts = (application_name or "").split(" ")
    if len(parts) == 4 and parts[0] == "certplan" and parts[2] == "pid":
        return f"host {parts[1]} (PID {parts[3]})"
    return f"database session {session_pid} ({application_name or 'no application name'})"


def composed(schema: str) -> dict[str, Composed]:
    from psycopg import sql

    s = sql.Identifier(schema)
    return {name: sql.SQL(text).format(s=s) for name, text in QUERIES.items()}


def connect(dsn: str, where: str) -> Connection[Any]:
    try:
        import psycopg
    except ImportError:
        raise StateError(f"{where}: the postgres state backend needs psycopg 3: "
                         f"{INSTALL_HINT}") from None
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(dsn)
    except psycopg.Error:
        # libpq quotes the token it could not parse, which may be the password
        raise StateError(f"{where}: [state] dsn is not a valid PostgreSQL connection string "
                         f"(key=value pairs or a postgresql:// URI; its text is not shown, "
                         f"as it may hold the password)") from None
    try:
        return psycopg.connect(dsn, autocommit=True, application_name=runner_name(),
                               connect_timeout=15)
    except psycopg.Error as exc:
        raise StateError(f"{where}: cannot connect: {first_line(exc)}") from None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def db_errors(where: str, writing: bool = False) -> Iterator[None]:
    """Database errors as one StateError naming the store; a role that may not do
    what was asked is told what it needs."""
    import psycopg

    try:
        yield
    except psycopg.errors.InsufficientPrivilege as exc:
        need = ("this role may read but not write the state: `apply`, `revoke` and "
                "`state push` need a role that may write; plan, list and show need only "
                "SELECT" if writing else "this role may not read the state: grant it USAGE "
                "on the schema and SELECT on its tables")
        raise StateError(f"{where}: {need} ({first_line(exc)})") from None
    except psycopg.Error as exc:
        raise StateError(f"{where}: {first_line(exc)}") from None


def prepare(conn: Connection[Any], schema: str, where: str) -> None:
    """Make sure the schema holds certplan's tables at SCHEMA_VERSION: create it on
    first use (when this role may), migrate an older one; a schema that exists and
    is current is only read."""
    with db_errors(where):
        if _exists(conn, schema):
            _check_version(conn, schema, where)
            return
        with conn.transaction():
            # two first runs at once: one creates, the other waits and finds it
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                         (f"certplan schema {schema}",))
            if _exists(conn, schema):
                return
            may = conn.execute("SELECT has_database_privilege(current_database(), 'CREATE')"
                               ).fetchone()
            if not (may and may[0]):
                raise StateError(
                    f"{where}: the schema does not exist and this role may not create it; "
                    f"a role that may (the apply role) creates it on first use, e.g. with "
                    f"`certplan state push` or `certplan apply`")
            from psycopg import sql

            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            _migrate(conn, schema, 0)


def _exists(conn: Connection[Any], schema: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                        (schema,)).fetchone() is not None


def _check_version(conn: Connection[Any], schema: str, where: str) -> None:
    from psycopg import sql

    found = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".schema_version',)).fetchone()
    if found is None or found[0] is None:
        raise StateError(f"{where}: the schema exists but has no schema_version table, so it "
                         f"is not certplan's; name another one with [state] schema")
    row = conn.execute(sql.SQL("SELECT max(version) FROM {}.schema_version").format(
        sql.Identifier(schema))).fetchone()
    version = int(row[0]) if row and row[0] is not None else 0
    if version > SCHEMA_VERSION:
        raise StateError(f"{where}: tables of version {version}, written by a newer "
                         f"certplan (this one knows version {SCHEMA_VERSION}): upgrade certplan")
    if version < SCHEMA_VERSION:
        with db_errors(where, writing=True), conn.transaction():
            conn.execute(sql.SQL("LOCK TABLE {}.schema_version").format(sql.Identifier(schema)))
            _migrate(conn, schema, version)


def _migrate(conn: Connection[Any], schema: str, version: int) -> None:
    from psycopg import sql

    s = sql.Identifier(schema)
    for step in range(version + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[step]:
            conn.execute(sql.SQL(statement).format(s=s))
    conn.execute(sql.SQL("DELETE FROM {s}.schema_version").format(s=s))
    conn.execute(sql.SQL("INSERT INTO {s}.schema_version VALUES (%s)").format(s=s),
                 (SCHEMA_VERSION,))
