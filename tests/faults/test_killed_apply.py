"""SIGKILL of a real `certplan apply` at each step of an issuance, against real Pebble
and nginx; then the next apply. After it: the served serial is the recorded one,
every key matches its certificate, no order is resumed that should not be (counted
in certplan's log and in Pebble's), and the renewal counter counts each renewal once."""

from __future__ import annotations

import json

import pytest

from certplan.model.crypto import describe_key, load_key, make_csr
from certplan.store.atomic import atomic_write
from tests.faults.killed_apply import (
    keystore_pair,
    new_orders,
    pebble_orders,
    pending_key,
    resumed_orders,
    run_killed_at,
    same_public_key,
    serial_of,
)
from tests.integration.apply_project import CertplanProject, spec_toml
from tests.integration.test_apply import served_leaf
from tests.servers.apply_fixtures import project, site
from tests.servers.nginx import NginxServer
from tests.servers.pebble import PebbleServer, pebble

__all__ = ["pebble", "project", "site"]

pytestmark = pytest.mark.integration

NAME = "k"
DOMAIN = "k.example.test"


def issued_once(project: CertplanProject, site: NginxServer, key: str | None = None) -> str:
    extra = f'key = "{key}"' if key else ""
    project.write_spec("k.toml", spec_toml(NAME, [DOMAIN], site.webroot, site, extra=extra))
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    return str(project.state(NAME)["certificate"]["serial"])


def assert_consistent(project: CertplanProject, site: NginxServer) -> str:
    """Recorded = keystore = installed = served; each key matches its certificate;
    no open order or pending key left. Returns the serial."""
    record = project.state(NAME)
    serial = record["certificate"]["serial"]
    key, chain = keystore_pair(project, NAME)
    assert serial_of(chain) == serial and same_public_key(key, chain)
    assert serial_of(site.cert_path.read_bytes()) == serial
    assert same_public_key(site.key_path.read_bytes(), site.cert_path.read_bytes())
    assert served_leaf(site, DOMAIN, serial).serial_number == int(serial, 16)
    assert record["pending_order"] is None
    assert not pending_key(project, NAME).exists()
    return str(serial)


def test_killed_after_the_order_resumes_that_order(
        project: CertplanProject, site: NginxServer, pebble: PebbleServer) -> None:
    old = issued_once(project, site)
    out = run_killed_at(project, "after-order", "apply", "--auto-approve", "--replace", NAME)
    (order,) = new_orders(out)
    assert project.state(NAME)["pending_order"]["url"] == order
    assert site.served_serial(DOMAIN) == old  # the old certificate is still served
    plan = project.plan_json()["changes"][0]
    assert plan["action"] == "renew" and "apply resumes it" in plan["reason"]
    before = pebble_orders(pebble.log())

    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert resumed_orders(res.stderr) == [order] and new_orders(res.stderr) == []
    assert pebble_orders(pebble.log()) == before  # no order was made at the CA
    assert assert_consistent(project, site) != old
    assert project.state(NAME)["renewals"] == 1


def test_killed_after_download_records_the_downloaded_certificate(
        project: CertplanProject, site: NginxServer, pebble: PebbleServer) -> None:
    old = issued_once(project, site)
    out = run_killed_at(project, "after-download", "apply", "--auto-approve", "--replace", NAME)
    (order,) = new_orders(out)
    _, chain = keystore_pair(project, NAME)
    downloaded = serial_of(chain)
    assert project.state(NAME)["certificate"]["serial"] == old != downloaded
    before = pebble_orders(pebble.log())

    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert resumed_orders(res.stderr) == [order] and new_orders(res.stderr) == []
    assert pebble_orders(pebble.log()) == before
    assert assert_consistent(project, site) == downloaded
    assert project.state(NAME)["renewals"] == 1


def test_killed_after_the_state_write_does_not_resume_a_finished_order(
        project: CertplanProject, site: NginxServer, pebble: PebbleServer) -> None:
    """State records the new certificate, the pending key is still there: `--replace`
    makes a new order with a new key, it does not record the same serial again."""
    issued_once(project, site)
    out = run_killed_at(project, "after-state", "apply", "--auto-approve", "--replace", NAME)
    (order,) = new_orders(out)
    recorded = project.state(NAME)["certificate"]["serial"]
    assert project.state(NAME)["renewals"] == 1
    assert pending_key(project, NAME).exists()  # the leftover key no record names
    before = pebble_orders(pebble.log())

    res = project.apply("--replace", NAME)
    assert res.returncode == 0, res.stdout + res.stderr
    assert resumed_orders(res.stderr) == []
    assert len(new_orders(res.stderr)) == 1 and new_orders(res.stderr) != [order]
    assert pebble_orders(pebble.log()) == before + 1
    serial = assert_consistent(project, site)
    assert serial != recorded
    assert project.state(NAME)["renewals"] == 2


def record_finished_order_as_open(project: CertplanProject, pebble: PebbleServer,
                                  order_url: str) -> None:
    """What a crash of certplan 0.1 between the state write and clearing its pending
    file left (or a state merged from another branch): state records the certificate
    AND, as still open, the order that issued it, whose key the keystore holds."""
    key, _ = keystore_pair(project, NAME)
    csr = make_csr(load_key(key), [DOMAIN]).decode("ascii")
    state_file = project.root / "state" / f"{NAME}.json"
    data = json.loads(state_file.read_text())
    data["pending_order"] = {"url": order_url, "ca": "pebble",
                             "directory": pebble.directory_url,
                             "created_at": "2026-01-01T00:00:00+00:00", "csr_pem": csr}
    state_file.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    atomic_write(pending_key(project, NAME), key, 0o600)


@pytest.mark.parametrize("how", ["replace", "revoked"])
def test_a_finished_order_recorded_as_open_is_not_finished_again(
        how: str, project: CertplanProject, site: NginxServer, pebble: PebbleServer) -> None:
    """`--replace`, or apply after `revoke --reason keyCompromise`: a new order with a
    new key, never the recorded (or revoked) serial again."""
    project.write_spec("k.toml", spec_toml(NAME, [DOMAIN], site.webroot, site))
    first = project.apply()
    assert first.returncode == 0, first.stdout + first.stderr
    (order,) = new_orders(first.stderr)
    old = project.state(NAME)["certificate"]["serial"]
    record_finished_order_as_open(project, pebble, order)
    if how == "revoked":
        res = project.run("revoke", NAME, "--reason", "keyCompromise", "--yes")
        assert res.returncode == 0, res.stdout + res.stderr
        args: tuple[str, ...] = ()
    else:
        args = ("--replace", NAME)

    res = project.apply(*args)
    assert res.returncode == 0, res.stdout + res.stderr
    (line,) = [x for x in res.stderr.splitlines() if f"open order {order} cannot" in x]
    if how == "replace":
        assert f"(its certificate, serial {old}, is the one state records already)" in line
    else:  # Pebble forgets the certificate of a revoked order (404)
        assert "(its certificate cannot be downloaded: " in line and "404" in line
    assert resumed_orders(res.stderr) == [] and len(new_orders(res.stderr)) == 1
    serial = assert_consistent(project, site)
    assert serial != old
    assert project.state(NAME)["renewals"] == 1
    assert project.state(NAME)["revoked"] is None


def test_an_open_order_for_another_key_type_is_not_resumed(
        project: CertplanProject, site: NginxServer) -> None:
    issued_once(project, site, key="ec-256")
    out = run_killed_at(project, "after-order", "apply", "--auto-approve", "--replace", NAME)
    (order,) = new_orders(out)
    project.write_spec("k.toml", spec_toml(NAME, [DOMAIN], site.webroot, site,
                                           extra='key = "rsa-2048"'))
    change = project.plan_json()["changes"][0]
    assert change["action"] == "issue"
    assert ("no longer matches (it is for an ec-256 key, the spec now asks for rsa-2048); "
            "apply orders anew") in change["reason"]

    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"open order {order} cannot be resumed" in res.stderr
    assert resumed_orders(res.stderr) == [] and len(new_orders(res.stderr)) == 1
    assert_consistent(project, site)
    key = load_key(site.key_path.read_bytes())
    assert describe_key(key) == "rsa-2048" == project.state(NAME)["key_type"]


def test_every_step_is_reported_as_it_starts(project: CertplanProject,
                                             site: NginxServer) -> None:
    """A slow step is never silent: each step logs a line before it starts, in order."""
    project.write_spec("k.toml", spec_toml(NAME, [DOMAIN], site.webroot, site))
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    steps = [f"ordering {DOMAIN} from CA pebble", ": order https://",
             f"presenting http-01 for {DOMAIN}", f"self-checking http-01 for {DOMAIN}",
             "challenge(s) in place, telling the CA", f"waiting for the CA to validate {DOMAIN}",
             "finalizing order https://", "checking the certificate against its key and names",
             "issued serial", "installing install[0] (files)"]
    connecting = f"CA pebble: connecting to {project.pebble.directory_url}"
    # each line: an RFC 3339 time, then what happened
    said = [line.split("Z ", 1)[1] for line in res.stderr.splitlines()]
    assert said[0] == connecting, res.stderr  # once per CA and run, first
    lines = [line for line in said if line.startswith(f"{NAME}: ")]
    at = [next((i for i, line in enumerate(lines) if step in line), -1) for step in steps]
    assert -1 not in at and at == sorted(at), "\n".join(lines)


def test_an_open_order_the_ca_no_longer_has_is_dropped(
        project: CertplanProject, site: NginxServer, pebble: PebbleServer) -> None:
    """Gone (404 at the CA, e.g. after a CA reset): dropped with a log line, a new
    order made in the same run, not `finalizing order ... 404` on every run."""
    issued_once(project, site)
    gone = pebble.directory_url.rsplit("/dir", 1)[0] + "/my-order/no-such-order"
    record_finished_order_as_open(project, pebble, gone)
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"open order {gone} cannot be resumed (the CA no longer has it: " in res.stderr
    assert len(new_orders(res.stderr)) == 1
    assert_consistent(project, site)
    assert project.state(NAME)["renewals"] == 1
