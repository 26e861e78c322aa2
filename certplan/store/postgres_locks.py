"""Advisory locks of the postgres backend, held on the runner's own session.

A lock lives as long as the session that took it: a runner that is killed loses
its connection and with it every lock, so nothing is ever left locked. Each lock
is one 64-bit key derived from the schema and what it guards (the state, or one
certificate). Who holds one is read from pg_locks and the holder's
application_name ("certplan HOST pid PID", set when it connected), which every
role may read: no table is written for a lock, so taking one needs no privilege.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from certplan.model.errors import LockError
from certplan.store.postgres_sql import db_errors, holder_from

if TYPE_CHECKING:
    from psycopg import Connection

HOLDER_QUERY = """
SELECT l.pid, a.application_name FROM pg_locks l
LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = %s AND l.objid::bigint = %s AND l.pid <> pg_backend_pid()
ORDER BY l.pid
"""


def lock_key(schema: str, what: str) -> int:
    """A signed 64-bit advisory key for `what` in `schema`."""
    digest = hashlib.sha256(f"certplan\0{schema}\0{what}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Session:
    """One connection shared by the threads of a run; each statement under a mutex."""

    def __init__(self, conn: Connection[Any], where: str, mutex: threading.RLock):
        self.conn = conn
        self.where = where
        self.mutex = mutex

    def _try(self, key: int, shared: bool) -> bool:
        fn = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        with self.mutex, db_errors(self.where):
            row = self.conn.execute(f"SELECT {fn}(%s)", (key,)).fetchone()
        return bool(row and row[0])

    def _release(self, key: int, shared: bool) -> None:
        fn = "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock"
        try:
            with self.mutex:
                self.conn.execute(f"SELECT {fn}(%s)", (key,))
        except Exception:  # noqa: BLE001 - a lost session has released it already
            pass

    def holders(self, key: int) -> list[str]:
        unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
        with self.mutex, db_errors(self.where):
            rows = self.conn.execute(HOLDER_QUERY, (unsigned >> 32, unsigned & 0xFFFF_FFFF)
                                     ).fetchall()
        return list(dict.fromkeys(holder_from(name, pid) for pid, name in rows))

    @contextmanager
    def hold(self, key: int, *, shared: bool, timeout: float,
             refused: Callable[[str, float], LockError],
             clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> Iterator[None]:
        """Hold the advisory lock `key`; after `timeout` seconds, raise
        `refused(holder, timeout)` naming who holds it."""
        deadline = clock() + timeout
        interval = 0.05
        while not self._try(key, shared):
            if clock() >= deadline:
                holders = self.holders(key)
                raise refused(", ".join(holders) or "another session", timeout)
            sleep(min(interval, max(0.0, deadline - clock())))
            interval = min(interval * 1.5, 1.0)
        try:
            yield
        finally:
            self._release(key, shared)
