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
