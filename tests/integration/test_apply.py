"""`certplan apply` end to end: real Pebble (real http-01 validation, nonce
rejection on), real nginx serving the webroot, installing and reloading; the CLI
runs as its own process, the way cron runs it."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tests.integration.apply_project import CertplanProject, spec_toml
from tests.servers.nginx import NginxServer, start_nginx
from tests.servers.pebble import PebbleServer, start_pebble

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    # No authorization reuse: every order must prove control again, so a test
    # that stops an apply halfway always finds a challenge to stop at.
    server = start_pebble(tmp_path_factory.mktemp("pebble"), authz_reuse=0)
    yield server
    server.stop()


@contextmanager
def own_stack(tmp_path: Path, **pebble_options: Any) -> Iterator[tuple[CertplanProject,
                                                                       NginxServer,
                                                                       PebbleServer]]:
    """A Pebble of its own (custom settings), nginx on its http port, and a project."""
    import tempfile

    pebble = start_pebble(tmp_path / "own-pebble", **pebble_options)
    workdir = Path(tempfile.mkdtemp(prefix="certplan-site-"))
    site = start_nginx(workdir, http_port=pebble.http_port)
    try:
        project = CertplanProject(tmp_path / "ops", pebble)
        project.root.mkdir()
        project.write_config()
        yield project, site, pebble
    finally:
        site.stop()
        pebble.stop()
        subprocess.run(["rm", "-rf", str(workdir)], check=False)


def verify_chain(pem_path: Path, root_pem: str, tmp_path: Path) -> subprocess.CompletedProcess:
    root = tmp_path / "root.pem"
    root.write_text(root_pem)
    return subprocess.run(["openssl", "verify", "-CAfile", str(root), "-untrusted",
                           str(pem_path), str(pem_path)], capture_output=True, text=True)


def served_leaf(site: NginxServer, name: str, expect: str | None = None,
                timeout: float = 5.0) -> x509.Certificate:
    """The certificate nginx serves; with `expect`, poll until it has that serial
    (a reload swaps worker processes asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        leaf = x509.load_der_x509_certificate(site.served_certificate(name))
        if expect is None or format(leaf.serial_number, "x") == expect \
                or time.monotonic() > deadline:
            return leaf
        time.sleep(0.05)


def served_serial(site: NginxServer, name: str, expect: str | None = None) -> str:
    return format(served_leaf(site, name, expect).serial_number, "x")


def test_issue_install_serve_then_nothing_to_do(project: CertplanProject, site: NginxServer,
                                                pebble: PebbleServer, tmp_path: Path) -> None:
    project.write_spec("web.toml", spec_toml("web", ["web.example.test", "www.web.example.test"],
                                             site.webroot, site))
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Apply: 1 done, 0 failed." in res.stdout
    serial = project.state("web")["certificate"]["serial"]
    assert served_serial(site, "web.example.test", serial) == serial
    verified = verify_chain(site.cert_path, pebble.root_pem(), tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert stat.S_IMODE(os.stat(site.key_path).st_mode) == 0o600
    for path in (project.root / "state").rglob("*"):
        assert b"PRIVATE KEY" not in path.read_bytes(), path
    keystore = project.root / ".certplan"
    assert stat.S_IMODE(os.stat(keystore).st_mode) == 0o700
    for key in keystore.rglob("*key.pem"):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600, key
    # a second plan has nothing to do
    again = project.run("plan", "--detailed-exitcode", "--no-refresh")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes." in again.stdout
    # --replace renews now, and nginx serves the new serial
    res = project.apply("--replace", "web")
    assert res.returncode == 0, res.stdout + res.stderr
    renewed = project.state("web")
    assert renewed["certificate"]["serial"] != serial
    assert renewed["renewals"] == 1
    new = renewed["certificate"]["serial"]
    assert served_serial(site, "web.example.test", new) == new
    # a domain added to the spec issues a new certificate that covers it
    project.write_spec("web.toml", spec_toml(
        "web", ["web.example.test", "www.web.example.test", "api.web.example.test"],
        site.webroot, site))
    change = project.plan_json()["changes"][0]
    assert (change["action"], change["reason"]) == ("issue", "domains: +api.web.example.test")
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    leaf = served_leaf(site, "api.web.example.test", project.state("web")["certificate"]["serial"])
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "api.web.example.test" in sans.get_values_for_type(x509.DNSName)


def test_drifted_file_is_reinstalled_without_a_new_order(project: CertplanProject,
                                                         site: NginxServer) -> None:
    project.write_spec("d.toml", spec_toml("drift", ["drift.example.test"], site.webroot, site))
    assert project.apply().returncode == 0
    serial = project.state("drift")["certificate"]["serial"]
    site.key_path.unlink()
    change = project.plan_json()["changes"][0]
    assert change["action"] == "install"
    assert change["reason"] == f"install[0]: {site.key_path} is missing"
    site.cert_path.write_text("edited by hand\n")  # both kinds of drift at once
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert " order " not in res.stderr  # no ACME order at all
    assert project.state("drift")["certificate"]["serial"] == serial
    assert served_serial(site, "drift.example.test") == serial
    assert project.plan_json()["changes"] == []


def test_failing_check_puts_old_files_back(project: CertplanProject, site: NginxServer) -> None:
    project.write_spec("c.toml", spec_toml("chk", ["chk.example.test"], site.webroot, site))
    assert project.apply().returncode == 0
    old_serial = project.state("chk")["certificate"]["serial"]
    old_files = (site.key_path.read_bytes(), site.cert_path.read_bytes())
    project.write_spec("c.toml", spec_toml("chk", ["chk.example.test"], site.webroot, site,
                                           check="echo config broken >&2; exit 3"))
    res = project.apply("--replace", "chk")
    assert res.returncode == 1
    assert "check command" in res.stdout and "exited 3" in res.stdout
    assert "config broken" in res.stdout
    assert (site.key_path.read_bytes(), site.cert_path.read_bytes()) == old_files
    assert served_serial(site, "chk.example.test") == old_serial
    # the new certificate is kept; the next apply only installs it again
    project.write_spec("c.toml", spec_toml("chk", ["chk.example.test"], site.webroot, site))
    change = project.plan_json()["changes"][0]
    assert change["action"] == "install"
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert " order " not in res.stderr
    new_serial = project.state("chk")["certificate"]["serial"]
    assert new_serial != old_serial
    assert served_serial(site, "chk.example.test", new_serial) == new_serial


def _wait_for_order(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """Read the apply's log until it names its order; return the order URL."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if ": order https://" in line:
            return line.split(": order ", 1)[1].split(" ")[0]
    raise AssertionError("apply never created an order")


def test_killed_apply_resumes_same_order_and_a_second_apply_is_refused(
        project: CertplanProject, site: NginxServer, tmp_path: Path) -> None:
    project.write_spec("k.toml", spec_toml("kill", ["kill.example.test"], site.webroot, site))
    assert project.apply().returncode == 0
    old_serial = project.state("kill")["certificate"]["serial"]
    # a webroot nginx does not serve: the self-check waits, holding the order open
    hidden = tmp_path / "not-served"
    project.write_spec("k.toml", spec_toml("kill", ["kill.example.test"], hidden, site))
    proc = project.popen("apply", "--auto-approve", "--replace", "kill")
    try:
        order_url = _wait_for_order(proc)
        # a second apply meanwhile is refused at once, naming the holder
        second = project.apply()
        assert second.returncode == 1
        assert "another certplan apply holds" in second.stderr
        assert f"PID {proc.pid}" in second.stderr
        assert project.state("kill")["pending_order"]["url"] == order_url
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert served_serial(site, "kill.example.test") == old_serial
    # fixed spec: the next apply finishes the very same order
    project.write_spec("k.toml", spec_toml("kill", ["kill.example.test"], site.webroot, site))
    change = project.plan_json()["changes"][0]
    assert change["action"] == "renew" and "is resumed" in change["reason"]
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"resuming order {order_url}" in res.stderr
    record = project.state("kill")
    assert record["pending_order"] is None
    assert record["certificate"]["serial"] != old_serial
    new = record["certificate"]["serial"]
    assert served_serial(site, "kill.example.test", new) == new


def test_lock_timeout_waits_for_the_other_apply(project: CertplanProject,
                                                site: NginxServer, tmp_path: Path) -> None:
    project.write_spec("w.toml", spec_toml("wait", ["wait.example.test"],
                                           tmp_path / "not-served", site))
    first = project.popen("apply", "--auto-approve", "--timeout", "3")
    try:
        _wait_for_order(first)
        started = time.monotonic()
        second = project.run("apply", "--auto-approve", "--lock-timeout", "30",
                             "--timeout", "3")
        waited = time.monotonic() - started
    finally:
        first.wait(timeout=30)
    assert first.returncode == 1  # its self-check timed out
    assert second.returncode == 1  # same problem, but it got the lock and ran
    assert "another certplan apply" not in second.stderr
    assert waited > 1.0
    assert "not-served" in second.stdout  # the error names the token file


def test_unreachable_ca_leaves_everything_as_it_was(tmp_path: Path) -> None:
    with own_stack(tmp_path, authz_reuse=0) as (project, site, pebble):
        project.write_spec("u.toml", spec_toml("unr", ["unr.example.test"], site.webroot, site)
                           + spec_toml("unr2", ["unr2.example.test"], site.webroot, None))
        assert project.apply().returncode == 0
        serial = project.state("unr")["certificate"]["serial"]
        before = project.state_bytes()
        files = (site.key_path.read_bytes(), site.cert_path.read_bytes())
        pebble.stop()
        res = project.apply("--replace-all", "--parallel", "1")
        assert res.returncode == 1
        assert "Apply: 0 done, 2 failed." in res.stdout
        assert "(not retried in this run)" in res.stdout  # one connection attempt per CA
        assert "Traceback" not in res.stdout + res.stderr
        assert "unreachable" in (res.stdout + res.stderr).lower()
        assert project.state_bytes() == before
        assert (site.key_path.read_bytes(), site.cert_path.read_bytes()) == files
        assert served_serial(site, "unr.example.test") == serial


def test_ten_issuances_at_50_percent_nonce_rejection(tmp_path: Path) -> None:
    with own_stack(tmp_path, nonce_reject=50) as (project, site, pebble):
        specs = "".join(spec_toml(f"n{i}", [f"n{i}.example.test"], site.webroot, None)
                        for i in range(10))
        project.write_spec("n.toml", specs)
        res = project.apply("--parallel", "4")
        assert res.returncode == 0, res.stdout + res.stderr
        assert "Apply: 10 done, 0 failed." in res.stdout


def test_short_validity_is_renewed_when_due(tmp_path: Path) -> None:
    """A one-day certificate: due at half its lifetime. Time comes from `plan --at`
    (no waiting for the wall clock); the saved plan is then applied, a due renewal
    being what a saved plan may always ask for."""
    with own_stack(tmp_path, validity_seconds=86400) as (project, site, pebble):
        project.write_spec("s.toml", spec_toml("short", ["short.example.test"], site.webroot,
                                               site))
        assert project.apply().returncode == 0
        first = project.plan_json()
        assert first["changes"] == []
        assert any("short" in w and "hourly" in w for w in first["warnings"])
        cert = project.state("short")["certificate"]
        not_before = datetime.fromisoformat(cert["not_before"].replace("Z", "+00:00"))
        half = not_before + (datetime.fromisoformat(cert["not_after"].replace("Z", "+00:00"))
                             - not_before) / 2
        before = project.plan_json("--at", iso_z(half - timedelta(minutes=1)))
        assert before["changes"] == []
        planfile = project.root / "due.plan.json"
        res = project.run("plan", "--no-refresh", "--format", "json", "--out", str(planfile),
                          "--at", iso_z(half + timedelta(minutes=1)))
        assert res.returncode == 0, res.stdout + res.stderr
        [change] = json.loads(res.stdout)["changes"]
        assert change["action"] == "renew"
        assert "1/2 of a short lifetime" in change["reason"]
        old = cert["serial"]
        res = project.run("apply", str(planfile))
        assert res.returncode == 0, res.stdout + res.stderr
        assert project.state("short")["certificate"]["serial"] != old


def iso_z(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_saved_plan_applies_once_then_is_stale_and_no_tty_refuses(
        project: CertplanProject, site: NginxServer) -> None:
    project.write_spec("p.toml", spec_toml("saved", ["saved.example.test"], site.webroot, site))
    refused = project.run("apply")  # no terminal, no --auto-approve
    assert refused.returncode == 1
    assert "--auto-approve" in refused.stderr
    assert not (project.root / "state" / "saved.json").exists()
    planfile = project.root / "tonight.plan.json"
    made = project.run("plan", "--no-refresh", "--out", str(planfile))
    assert made.returncode == 0, made.stderr
    res = project.run("apply", str(planfile))
    assert res.returncode == 0, res.stdout + res.stderr
    assert project.state("saved")["certificate"]["serial"]
    again = project.run("apply", str(planfile))
    assert again.returncode == 1
    assert "saved plan is stale" in again.stderr
    assert "Traceback" not in again.stderr


def test_removed_spec_revokes_deletes_files_and_archives(project: CertplanProject,
                                                         site: NginxServer) -> None:
    project.write_spec("r.toml", spec_toml(
        "gone", ["gone.example.test"], site.webroot, site,
        extra="on_remove = { revoke = true, delete_files = true }"))
    assert project.apply().returncode == 0
    serial = project.state("gone")["certificate"]["serial"]
    (project.root / "specs" / "r.toml").unlink()
    change = project.plan_json()["changes"][0]
    assert change["action"] == "remove"
    assert "revoke" in change["reason"] and "delete installed files" in change["reason"]
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"revoked serial {serial}" in res.stdout
    assert not site.key_path.exists() and not site.cert_path.exists()
    assert not (project.root / "state" / "gone.json").exists()
    archived = list((project.root / ".certplan" / "archive").glob("gone-*"))
    assert len(archived) == 1
    assert project.plan_json()["changes"] == []


def test_reload_that_changes_nothing_fails_verification_and_rolls_back(
        project: CertplanProject, site: NginxServer) -> None:
    project.write_spec("v.toml", spec_toml("ver", ["ver.example.test"], site.webroot, site))
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"verify 127.0.0.1:{site.https_port}" in res.stderr  # the handshake was checked
    old_serial = project.state("ver")["certificate"]["serial"]
    old_files = (site.key_path.read_bytes(), site.cert_path.read_bytes())
    # a reload command that does not reload: nginx keeps serving the old certificate
    project.write_spec("v.toml", spec_toml("ver", ["ver.example.test"], site.webroot, site,
                                           reload="true"))
    res = project.apply("--replace", "ver")
    assert res.returncode == 1
    assert "the new certificate is not served after the reload" in res.stdout
    assert "previous files restored" in res.stdout
    assert (site.key_path.read_bytes(), site.cert_path.read_bytes()) == old_files
    assert served_serial(site, "ver.example.test") == old_serial
