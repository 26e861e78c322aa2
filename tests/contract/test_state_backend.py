"""The contract every state backend keeps, run against each registered one.

A backend registered in certplan.store.backends needs an entry in CONFIGS below
(the certplan.toml that gives it a fresh, empty store); a registered backend
without one fails here, so none skips the contract. Each test opens the backend
the way the commands do: load_project, then open_state_backend. The postgres
backend runs against a real PostgreSQL (tests/servers/postgres.py), a fresh
database per test, its connection string in CERTPLAN_PG_DSN.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from certplan.load import load_project
from certplan.model.errors import LockError, StateConflict
from certplan.model.project import CONFIG_FILE, Project
from certplan.model.records import CertRecord, State
from certplan.store.backends import STATE_BACKENDS, open_state_backend
from certplan.store.base import StateBackend
from tests.servers.postgres import PgDatabase
from tests.unit.test_plan import desired, record
from tests.unit.test_state import full_record


def files_config(root: Path) -> str:
    return '[state]\nbackend = "files"\n\n[paths]\nstate = "state"\n'


def postgres_config(root: Path) -> str:
    return '[state]\nbackend = "postgres"\ndsn = { env = "CERTPLAN_PG_DSN" }\n'


# backend name -> certplan.toml text for a fresh store of that backend under `root`
CONFIGS: dict[str, Callable[[Path], str]] = {
    "files": files_config,
    "postgres": postgres_config,
}
# backend name -> what its fresh store needs besides the config (a server, a database)
def _postgres_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    db: PgDatabase = request.getfixturevalue("pg_database")
    monkeypatch.setenv("CERTPLAN_PG_DSN", db.writer_dsn)


STORES: dict[str, Callable[[pytest.FixtureRequest, pytest.MonkeyPatch], None]] = {
    "postgres": _postgres_store,
}


def config_for(name: str, root: Path) -> str:
    if name not in CONFIGS:
        pytest.fail(f"state backend {name!r} is registered but has no entry in CONFIGS of "
                    f"{__file__}: add one so that it runs the contract")
    return CONFIGS[name](root)


@pytest.fixture(params=STATE_BACKENDS.names())
def project(request: pytest.FixtureRequest, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project whose state lives in a fresh store of the backend under test."""
    if request.param in STORES:
        STORES[request.param](request, monkeypatch)
    root = tmp_path / "project"
    (root / "specs").mkdir(parents=True)
    (root / CONFIG_FILE).write_text(config_for(request.param, root))
    loaded = load_project(root)
    assert loaded.config.state.backend == request.param
    return loaded


@pytest.fixture
def backend(project: Project) -> StateBackend:
    return open_state_backend(project)


def rec(name: str, **fields: Any) -> CertRecord:
    return record(desired(name, [f"{name}.example.com"]), **fields)


def same(a: State, b: State) -> bool:
    return (a.meta, a.records, a.problems) == (b.meta, b.records, b.problems)


def test_the_fixture_fails_a_backend_without_an_entry(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="'postgresql' is registered but has no"):
        config_for("postgresql", tmp_path)


def test_empty_store(backend: StateBackend) -> None:
    state = backend.load()
    assert (state.meta, state.records, state.problems) == (None, {}, [])
    assert (state.serial, state.lineage) == (0, None)


def test_describe(backend: StateBackend) -> None:
    assert backend.describe().strip()


def test_write_then_load_round_trip(project: Project, backend: StateBackend) -> None:
    a, b = full_record("www"), rec("api", cert=False)
    backend.write(a, 0)
    meta = backend.write(b, 1)
    state = open_state_backend(project).load()  # another handle sees it
    assert state.problems == [] and state.records == {"www": a, "api": b}
    assert state.meta == meta
    changed = a.model_copy(update={"renewals": 7})
    backend.write(changed, 2)
    assert backend.load().records == {"www": changed, "api": b}


def test_serial_grows_by_one_and_lineage_stays(backend: StateBackend) -> None:
    m1 = backend.write(rec("a"), 0)
    m2 = backend.write(rec("b"), 1)
    m3 = backend.delete("a", 2)
    m4 = backend.delete("never-there", 3)
    assert [m.serial for m in (m1, m2, m3, m4)] == [1, 2, 3, 4]
    assert m1.lineage and {m.lineage for m in (m1, m2, m3, m4)} == {m1.lineage}
    state = backend.load()
    assert state.meta == m4 and set(state.records) == {"b"}


def test_stale_serial_is_a_conflict_and_changes_nothing(backend: StateBackend) -> None:
    backend.write(rec("a"), 0)
    backend.write(rec("b"), 1)
    before = backend.load()
    for stale in (0, 1, 3):
        with pytest.raises(StateConflict) as info:
            backend.write(rec("a", renewals=5), stale)
        assert (info.value.expected, info.value.found) == (stale, 2)
        message = str(info.value)
        assert f"expected serial {stale}" in message and "found serial 2" in message
        assert "another writer changed the state" in message
        with pytest.raises(StateConflict):
            backend.write(rec("new"), stale)
        assert same(backend.load(), before)


def test_delete_is_compare_and_swap(backend: StateBackend) -> None:
    backend.write(rec("a"), 0)
    backend.write(rec("b"), 1)
    before = backend.load()
    with pytest.raises(StateConflict):
        backend.delete("a", 1)
    assert same(backend.load(), before)
    meta = backend.delete("a", 2)
    state = backend.load()
    assert meta.serial == 3 and state.meta == meta and set(state.records) == {"b"}


def test_two_writers_from_one_serial_lose_no_update(project: Project) -> None:
    first, second = open_state_backend(project), open_state_backend(project)
    first.write(rec("a"), 0)
    seen_by_first, seen_by_second = first.load(), second.load()
    first.write(rec("a", renewals=1), seen_by_first.serial)
    with pytest.raises(StateConflict):
        second.write(rec("a", renewals=2), seen_by_second.serial)
    with pytest.raises(StateConflict):
        second.delete("a", seen_by_second.serial)
    state = second.load()
    assert state.serial == 2 and state.records["a"].renewals == 1


def test_racing_threads_one_wins(project: Project) -> None:
    """Eight writers read the same serial, then all write at once: exactly one wins."""
    open_state_backend(project).write(rec("base"), 0)
    writers = 8
    barrier = threading.Barrier(writers)
    results: list[str] = []

    def race(i: int) -> None:
        handle = open_state_backend(project)
        serial = handle.load().serial
        barrier.wait()
        try:
            handle.write(rec(f"w{i}"), serial)
            results.append("won")
        except StateConflict:
            results.append("conflict")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == ["conflict"] * (writers - 1) + ["won"]
    state = open_state_backend(project).load()
    assert state.serial == 2 and len(state.records) == 2


# -- the writer lock ---------------------------------------------------------------------------

HOLDER = """
import sys
from pathlib import Path
from typing import Any
from certplan.load import load_project
from certplan.store.backends import open_state_backend
with open_state_backend(load_project(Path(sys.argv[1]))).lock(0.0):
    print("locked", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def holder(project: Project) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the backend's lock until its stdin gets a line."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(project.root)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=5)


def test_lock_held_by_another_process_times_out_naming_it(
        backend: StateBackend, holder: subprocess.Popen[str]) -> None:
    start = time.monotonic()
    with pytest.raises(LockError) as info, backend.lock(0.3):
        pytest.fail("the lock was granted twice")
    assert 0.3 <= time.monotonic() - start < 5
    assert f"(PID {holder.pid})" in str(info.value)
    assert holder.stdin is not None
    holder.stdin.write("done\n")
    holder.stdin.flush()
    holder.wait(timeout=10)
    with backend.lock(5.0):
        pass


def test_lock_excludes_another_handle_in_this_process(project: Project) -> None:
    first, second = open_state_backend(project), open_state_backend(project)
    with first.lock(0.0):
        with pytest.raises(LockError), second.lock(0.0):
            pytest.fail("the lock was granted twice")
        first.write(rec("a"), 0)  # the holder writes while it holds the lock
    with second.lock(0.0):
        pass


def test_lock_released_when_the_body_raises(project: Project, backend: StateBackend) -> None:
    with pytest.raises(RuntimeError, match="boom"), backend.lock(0.0):
        raise RuntimeError("boom")
    with open_state_backend(project).lock(0.0):
        pass


# -- what apply holds: the run lock, and each certificate's lock -----------------------------

def test_apply_writes_under_the_run_and_certificate_locks(project: Project) -> None:
    """The way apply uses a backend: the run lock for the run, a certificate's lock
    while it is worked on, each write expecting the serial the run has seen."""
    backend = open_state_backend(project)
    backend.write(rec("old"), 0)
    with backend.run_lock(0.0):
        serial = backend.load().serial
        for name in ("a", "old"):
            with backend.lock_certificate(name, 0.0):
                serial = backend.write(rec(name, renewals=1), serial).serial
        with backend.lock_certificate("old", 0.0):
            serial = backend.delete("old", serial).serial
    state = open_state_backend(project).load()
    assert state.serial == serial == 4 and set(state.records) == {"a"}
    assert state.records["a"].renewals == 1
    with backend.run_lock(0.0), backend.lock_certificate("a", 0.0):
        pass  # both released


def test_run_lock_released_when_the_body_raises(project: Project) -> None:
    backend = open_state_backend(project)
    with pytest.raises(RuntimeError, match="boom"), backend.run_lock(0.0), \
            backend.lock_certificate("a", 0.0):
        raise RuntimeError("boom")
    with open_state_backend(project).lock(0.0):  # nothing left held
        pass
