"""A DSN libpq cannot parse: one message that does not repeat any of it."""

from __future__ import annotations

import pytest

from certplan.model.errors import StateError

pytest.importorskip("psycopg")

from certplan.store.postgres_sql import connect  # noqa: E402


@pytest.mark.parametrize("dsn", [
    "postgresql://app:s%zzcr3t@db.example/certs",   # bad percent-encoding in the password
    "host=db.example password=hunter two dbname=certs",  # unquoted space in the password
    "postgresql://app:pw@db.example/certs?sslmode=x hunter2",
])
def test_a_malformed_dsn_is_reported_without_its_text(dsn: str) -> None:
    with pytest.raises(StateError) as caught:
        connect(dsn, "the store")
    message = str(caught.value)
    assert "not a valid PostgreSQL connection string" in message
    for secret in ("zzcr3t", "two", "hunter2"):
        assert secret not in message


class _Rows:
    def __init__(self, rows: list[tuple[object, ...]]):
        self.rows = rows

    def fetchone(self) -> tuple[object, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[object, ...]]:
        return self.rows


class _Conn:
    def __init__(self, meta: tuple[object, ...]):
        self.meta = meta

    def execute(self, query: object, params: object = None) -> _Rows:
        return _Rows([self.meta] if query == "meta" else [])


def test_a_meta_row_of_a_newer_certplan_is_a_problem_not_a_traceback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from contextlib import contextmanager

    from certplan.model.secrets import SecretRef
    from certplan.store.postgres import PostgresBackend

    backend = PostgresBackend(SecretRef(env="NO_SUCH_DSN"))
    backend._q = {"meta": "meta", "records": "records"}  # type: ignore[dict-item]
    backend._where = "the store"

    @contextmanager
    def transaction(writing: bool):  # type: ignore[no-untyped-def]
        yield _Conn((99, "0b1c5f4e-0000-4000-8000-000000000000", 7))

    monkeypatch.setattr(backend, "_transaction", transaction)
    state = backend.load()
    assert state.meta is None
    assert state.problems and "newer certplan" in str(state.problems[0])
    assert "the store, table meta" in str(state.problems[0])
