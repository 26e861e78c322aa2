"""Several runners applying at once against one PostgreSQL state, with real Pebble
(real http-01 validation) and nginx serving the webroot: each certificate is
issued exactly once, the serial counts every write, and a runner killed while it
holds certificate locks leaves nothing locked."""

from __future__ import annotations

import os
import platform
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from certplan.model.secrets import SecretRef
from certplan.store.postgres import PostgresBackend
from tests.integration.apply_project import CertplanProject, spec_toml
from tests.servers.nginx import NginxServer
from tests.servers.pebble import PebbleServer, start_pebble
from tests.servers.postgres import PgDatabase

pytestmark = pytest.mark.integration

ENV = "CERTPLAN_PG_DSN"
POSTGRES_STATE = f'[state]\nbackend = "postgres"\ndsn = {{ env = "{ENV}" }}\n'


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    server = start_pebble(tmp_path_factory.mktemp("pebble"), authz_reuse=0)
    yield server
    server.stop()


def runner(root: Path, pebble: PebbleServer, db: PgDatabase) -> CertplanProject:
    """One runner (one host): its own project checkout and keystore, the shared database."""
    p = CertplanProject(root, pebble)
    p.root.mkdir()
    p.write_config(extra=POSTGRES_STATE)
    p.env[ENV] = db.writer_dsn
    return p


def orders_in(pebble: PebbleServer) -> int:
    counts = [int(n) for n in re.findall(r"There are now (\d+) orders in the db", pebble.log())]
    return max(counts, default=0)


def stored(db: PgDatabase) -> PostgresBackend:
    os.environ["CERTPLAN_TEST_DSN"] = db.writer_dsn
    return PostgresBackend(SecretRef(env="CERTPLAN_TEST_DSN"))


def test_two_runners_on_20_certificates_issue_each_exactly_once(
        tmp_path: Path, pebble: PebbleServer, site: NginxServer, pg_database: PgDatabase) -> None:
    names = [f"fleet{i:02d}" for i in range(20)]
    specs = "".join(spec_toml(n, [f"{n}.example.test"], site.webroot, None) for n in names)
    runners = [runner(tmp_path / f"host{i}", pebble, pg_database) for i in (1, 2)]
    for r in runners:
        r.write_spec("fleet.toml", specs)
    before = orders_in(pebble)

    procs = [r.popen("apply", "--auto-approve", "--parallel", "4") for r in runners]
    outputs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out + err

    state = stored(pg_database).load()
    assert state.problems == [] and sorted(state.records) == names  # no lost record
    assert all(r.certificate is not None and r.pending_order is None
               for r in state.records.values())
    assert orders_in(pebble) - before == 20  # one order per certificate, no more
    # each certificate's key sits in the keystore of the one runner that issued it
    holders = {n: [i for i, r in enumerate(runners)
                   if (r.root / ".certplan" / "certs" / n / "current").is_dir()]
               for n in names}
    assert all(len(h) == 1 for h in holders.values()), holders
    done = [set(re.findall(r"^(fleet\d\d)\s+issue\s+ok\b", out, re.M)) for out, _ in outputs]
    assert done[0].isdisjoint(done[1]) and done[0] | done[1] == set(names)
    assert {n for n, h in holders.items() if h == [0]} == done[0]
    # the two runs really overlapped: the second met certificates the first had
    skipped = sum(out.count(" skipped ") for out, _ in outputs)
    assert skipped >= 1, outputs
    # the serial counts every write: the order, the certificate, its installs
    assert state.serial == 3 * 20
    # a third run finds nothing to do
    res = runners[1].apply()
    assert res.returncode == 0 and "No changes" in res.stdout, res.stdout


def _wait_for_order(proc_stderr: object, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc_stderr.readline()  # type: ignore[attr-defined]
        if not line:
            break
        if ": order https://" in line:
            return str(line.split(": order ", 1)[1].split(" ")[0])
    raise AssertionError("apply never created an order")


def test_killed_runner_releases_its_locks_and_the_next_run_resumes(
        tmp_path: Path, pebble: PebbleServer, site: NginxServer, pg_database: PgDatabase) -> None:
    first, second = (runner(tmp_path / f"host{i}", pebble, pg_database) for i in (1, 2))
    hidden = tmp_path / "not-served"  # the self-check waits: the order stays open
    first.write_spec("k.toml", spec_toml("kill", ["kill.example.test"], hidden, None))
    second.write_spec("k.toml", spec_toml("kill", ["kill.example.test"], site.webroot, None))
    proc = first.popen("apply", "--auto-approve")
    try:
        assert proc.stderr is not None
        order_url = _wait_for_order(proc.stderr)
        # another runner skips it, naming the holder; its own run is not a failure
        res = second.apply()
        assert res.returncode == 0, res.stdout + res.stderr
        assert "skipped" in res.stdout and f"(PID {proc.pid})" in res.stdout
        assert f"host {platform.node()[:40]} (PID {proc.pid})" in res.stdout
        assert "1 skipped (another runner)" in res.stdout
        # a runner that waits (--lock-timeout) gives up after that time, naming it too
        res = second.apply("--lock-timeout", "1")
        assert res.returncode == 0 and f"(PID {proc.pid})" in res.stdout
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    record = stored(pg_database).load().records["kill"]
    assert record.pending_order is not None and record.pending_order.url == order_url
    # the session ended with the process: nothing is locked any more
    deadline = time.monotonic() + 10
    probe = stored(pg_database)
    probe.load()
    while True:
        try:
            with probe.lock_certificate("kill", 0.0):
                break
        except Exception:
            assert time.monotonic() < deadline, "the killed runner's lock was never released"
            time.sleep(0.1)
    # fixed spec on the same host (the order's key is in its keystore): resumed
    first.write_spec("k.toml", spec_toml("kill", ["kill.example.test"], site.webroot, None))
    res = first.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"resuming order {order_url}" in res.stderr
    record = stored(pg_database).load().records["kill"]
    assert record.pending_order is None and record.certificate is not None
