"""A crash in the last window of an issuance: the certificate is in the keystore
but the state was not written yet. The next apply must record that very
certificate from the same order, not order a second one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certplan.core.plan import make_plan
from certplan.engine.apply import Applier
from certplan.load import load_project
from certplan.model.crypto import cert_info, generate_key, key_to_pem
from certplan.model.observed import Observations
from certplan.model.records import CertRecord, StateMeta
from certplan.store.backends import open_state_backend
from certplan.store.keystore import Keystore
from tests.integration.apply_project import CertplanProject, spec_toml
from tests.servers.nginx import NginxServer, start_nginx
from tests.servers.pebble import PebbleServer, start_pebble

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in certplan catches it."""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[PebbleServer, NginxServer]]:
    pebble = start_pebble(tmp_path / "pebble", authz_reuse=0)
    workdir = Path(tempfile.mkdtemp(prefix="certplan-site-"))
    site = start_nginx(workdir, http_port=pebble.http_port)
    yield pebble, site
    site.stop()
    pebble.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def crash_after_keystore(tmp_path: Path, stack: tuple[PebbleServer, NginxServer],
                         monkeypatch: pytest.MonkeyPatch) -> tuple[CertplanProject, str, str]:
    """Issue once, then renew in process and crash right after the keystore got the
    new certificate, before the state records it. Returns the project, the serial
    the state still records and the serial the keystore holds."""
    pebble, site = stack
    project = CertplanProject(tmp_path / "ops", pebble)
    project.root.mkdir()
    project.write_config()
    project.write_spec("c.toml", spec_toml("crash", ["crash.example.test"], site.webroot, site))
    assert project.apply().returncode == 0
    old_serial = project.state("crash")["certificate"]["serial"]

    # In process, so the crash lands exactly after the keystore got the new
    # certificate and before the state records it.
    monkeypatch.chdir(project.root)
    proj = load_project(Path("."))
    store = open_state_backend(proj)
    real_write = store.write

    def crashing_write(record: CertRecord, expect_serial: int) -> StateMeta:
        if record.certificate is not None and record.certificate.serial != old_serial:
            raise Crash()
        return real_write(record, expect_serial)

    monkeypatch.setattr(store, "write", crashing_write)
    state = store.load()
    plan = make_plan(proj.desired, state.records, Observations(), datetime.now(UTC),
                     replace=["crash"])
    with pytest.raises(Crash):
        Applier(proj, state, store=store, log=lambda line: None).run(plan, parallel=1)
    monkeypatch.chdir(tmp_path)

    current = Keystore(project.root / ".certplan").load_current("crash")
    assert current is not None
    kept_serial = cert_info(current[1]).serial
    assert kept_serial != old_serial
    recorded = project.state("crash")
    assert recorded["certificate"]["serial"] == old_serial  # the state never saw it
    assert recorded["pending_order"] is not None
    return project, old_serial, kept_serial


def test_crash_between_keystore_and_state_records_the_same_certificate(
        tmp_path: Path, stack: tuple[PebbleServer, NginxServer],
        monkeypatch: pytest.MonkeyPatch) -> None:
    project, _, kept_serial = crash_after_keystore(tmp_path, stack, monkeypatch)
    order_url = project.state("crash")["pending_order"]["url"]

    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"resuming order {order_url}" in res.stderr
    assert " order https://" not in res.stderr.replace(f"resuming order {order_url}", "")
    record = project.state("crash")
    assert record["certificate"]["serial"] == kept_serial
    assert record["pending_order"] is None
    assert not (project.root / ".certplan" / "certs" / "crash" / "pending.key.pem").exists()
    assert os.path.exists(stack[1].cert_path)


@pytest.mark.parametrize("case", ["certplan-0.1", "another-key"])
def test_an_open_order_that_cannot_be_bound_to_its_key_is_ordered_anew(
        case: str, tmp_path: Path, stack: tuple[PebbleServer, NginxServer],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """certplan-0.1: the state's open order has no CSR (0.1 kept it in the keystore's
    pending.json); another-key: the keystore's pending key is not the one the CSR
    was made for (a later order's, cut short). Neither is resumed: a new order is
    made, and the old files are removed."""
    project, old_serial, kept_serial = crash_after_keystore(tmp_path, stack, monkeypatch)
    state_file = project.root / "state" / "crash.json"
    data = json.loads(state_file.read_text())
    pending = data["pending_order"]
    folder = project.root / ".certplan" / "certs" / "crash"
    if case == "certplan-0.1":
        del pending["csr_pem"]
        state_file.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        (folder / "pending.json").write_text(json.dumps({
            "order_url": pending["url"], "csr_pem": "-----BEGIN CERTIFICATE REQUEST-----...",
            "directory": pending["directory"], "created": "2026-01-01T00:00:00+00:00"}))
    else:
        (folder / "pending.key.pem").write_bytes(key_to_pem(generate_key("ec-256")))

    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"open order {pending['url']} cannot be resumed" in res.stderr
    record = project.state("crash")
    assert record["certificate"]["serial"] not in (old_serial, kept_serial)
    assert record["pending_order"] is None
    assert sorted(p.name for p in folder.iterdir()) == ["current", "previous"]
