"""`certplan revoke NAME` against Pebble: the CA marks the serial revoked (checked on
Pebble's management interface), state records it, `plan` shows issue, and the next
apply issues a new certificate. A spec removed with on_remove.revoke revokes too."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.apply_project import CertplanProject
from tests.integration.modern_project import (
    assert_clean_failure,
    make_project,
    standalone_spec,
)
from tests.servers.pebble import PebbleServer, pebble  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture
def project(tmp_path: Path, pebble: PebbleServer) -> CertplanProject:  # noqa: F811
    return make_project(tmp_path / "ops", pebble)


def cert_status(pebble: PebbleServer, serial: str) -> dict[str, Any]:  # noqa: F811
    """What Pebble itself says about a serial (management API, not certplan)."""
    ctx = ssl.create_default_context(cafile=pebble.ca_bundle)
    url = f"{pebble.management_url}/cert-status-by-serial/{serial}"
    with urllib.request.urlopen(url, context=ctx, timeout=5) as r:
        return dict(json.load(r))


def test_revoke_records_it_and_plan_issues_anew(project: CertplanProject,
                                                pebble: PebbleServer) -> None:  # noqa: F811
    standalone_spec(project, "rv", ["rv.example.test"])
    assert project.apply().returncode == 0
    serial = project.state("rv")["certificate"]["serial"]
    assert cert_status(pebble, serial)["Status"] == "Valid"
    unconfirmed = assert_clean_failure(project.run("revoke", "rv"))  # stdin is not a terminal
    assert "not a terminal, so nobody can confirm: pass --yes" in unconfirmed
    assert cert_status(pebble, serial)["Status"] == "Valid"

    res = project.run("revoke", "rv", "--reason", "keyCompromise", "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"rv: revoked serial {serial} (keyCompromise); recorded in state" in res.stdout
    status = cert_status(pebble, serial)
    assert (status["Status"], status["Reason"]) == ("Revoked", 1)
    revoked = project.state("rv")["revoked"]
    assert (revoked["serial"], revoked["reason"]) == (serial, "keyCompromise")

    change = project.plan_json()["changes"][0]
    assert change["action"] == "issue"
    assert change["reason"].startswith(f"serial {serial} was revoked ")
    assert change["reason"].endswith("(keyCompromise)")

    again = project.run("revoke", "rv", "--yes")
    out = assert_clean_failure(again)
    assert f"serial {serial} was already revoked" in out

    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    record = project.state("rv")
    assert record["certificate"]["serial"] != serial and record["revoked"] is None
    assert project.plan_json()["changes"] == []


@pytest.mark.parametrize("args,message", [
    (["rv2", "--reason", "becauseISaidSo", "--yes"], "--reason 'becauseISaidSo': choose one of"),
    (["nosuch", "--yes"], "no certificate recorded for 'nosuch'"),
])
def test_revoke_refusals(project: CertplanProject, args: list[str], message: str) -> None:
    standalone_spec(project, "rv2", ["rv2.example.test"])
    out = assert_clean_failure(project.run("revoke", *args))
    assert message in out, out
    assert not (project.root / "state" / "rv2.json").exists() or \
        project.state("rv2")["revoked"] is None


def test_removed_spec_with_on_remove_revoke(project: CertplanProject,
                                            pebble: PebbleServer) -> None:  # noqa: F811
    standalone_spec(project, "gone", ["gone.example.test"], "")
    text = (project.root / "specs" / "gone.toml").read_text()
    (project.root / "specs" / "gone.toml").write_text(
        text + "[certificate.on_remove]\nrevoke = true\n")
    assert project.apply().returncode == 0
    serial = project.state("gone")["certificate"]["serial"]
    (project.root / "specs" / "gone.toml").unlink()
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"revoked serial {serial} (cessationOfOperation)" in res.stdout
    status = cert_status(pebble, serial)
    assert (status["Status"], status["Reason"]) == ("Revoked", 5)
    assert not (project.root / "state" / "gone.json").exists()
    with pytest.raises(urllib.error.HTTPError):
        cert_status(pebble, "00")  # sanity: unknown serials are not "Valid"
