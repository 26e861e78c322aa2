"""The postgres backend's locks, in process against a real PostgreSQL: runs share
the run lock, an exclusive `lock()` keeps them out, a certificate is locked by one
handle at a time, and a record that changed since a handle loaded the state is
not worked on from that stale view."""

from __future__ import annotations

import os
import threading
import time

import pytest

from certplan.model.errors import LockError, StateConflict
from certplan.model.records import CertRecord
from certplan.model.secrets import SecretRef
from certplan.store.base import CertificateBusy
from certplan.store.postgres import PostgresBackend
from tests.servers.postgres import PgDatabase
from tests.unit.test_plan import desired, record

pytestmark = pytest.mark.integration


def handle(db: PgDatabase) -> PostgresBackend:
    os.environ["CERTPLAN_LOCK_TEST_DSN"] = db.writer_dsn
    return PostgresBackend(SecretRef(env="CERTPLAN_LOCK_TEST_DSN"))


def rec(name: str, renewals: int = 0) -> CertRecord:
    return record(desired(name, [f"{name}.example.com"]), renewals=renewals)


def test_runs_share_the_run_lock_and_lock_keeps_them_out(pg_database: PgDatabase) -> None:
    a, b, admin = handle(pg_database), handle(pg_database), handle(pg_database)
    with a.run_lock(0.0), b.run_lock(0.0):
        with pytest.raises(LockError, match=r"is applying or changing the state of .*: "
                                            r"host \S+ \(PID \d+\); waited"), admin.lock(0.2):
            pytest.fail("an exclusive lock during runs")
    with admin.lock(0.0):
        with pytest.raises(LockError, match=r"holds the state lock"), a.run_lock(0.0):
            pytest.fail("a run during an exclusive lock")


def test_runners_write_their_own_certificates_without_conflicts(
        pg_database: PgDatabase) -> None:
    """Two runners read serial 0, then each writes several records of its own under
    its certificate locks, interleaved: every write lands, the serial counts them."""
    runners = [handle(pg_database), handle(pg_database)]
    for r in runners:
        assert r.load().serial == 0
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            for n in range(5):
                name = f"r{i}-{n}"
                with runners[i].lock_certificate(name, 0.0):
                    runners[i].write(rec(name), 0)  # 0: the serial it read, long stale
                    runners[i].write(rec(name, renewals=1), 0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    state = handle(pg_database).load()
    assert state.serial == 20 and len(state.records) == 10
    assert all(r.renewals == 1 for r in state.records.values())
    # outside a certificate lock the state-wide compare-and-swap holds as always
    with pytest.raises(StateConflict):
        runners[0].write(rec("late"), 0)


def test_a_certificate_is_locked_by_one_runner_and_a_stale_view_is_refused(
        pg_database: PgDatabase) -> None:
    first, second = handle(pg_database), handle(pg_database)
    first.write(rec("www"), 0)
    first.load()
    second.load()
    with first.lock_certificate("www", 0.0):
        started = time.monotonic()
        with pytest.raises(CertificateBusy, match=r"another runner works on it: host "
                                                  rf"\S+ \(PID {os.getpid()}\); waited 0.3s"), \
                second.lock_certificate("www", 0.3):
            pytest.fail("granted twice")
        assert time.monotonic() - started >= 0.3
        first.write(rec("www", renewals=1), 0)
    # `second` read the state before that write: it may not act on "www" from there
    with pytest.raises(CertificateBusy, match="changed it since this run read the state"), \
            second.lock_certificate("www", 0.0):
        pytest.fail("worked on a stale record")
    second.load()
    with second.lock_certificate("www", 0.0):
        second.write(rec("www", renewals=2), 0)
    # and a write under the lock still refuses a record changed behind its back
    with second.lock_certificate("www", 0.0):
        other = handle(pg_database)
        other.write(rec("www", renewals=9), other.load().serial)  # no lock: a bug elsewhere
        with pytest.raises(StateConflict, match="record 'www'"):
            second.write(rec("www", renewals=3), 0)
    assert handle(pg_database).load().records["www"].renewals == 9
