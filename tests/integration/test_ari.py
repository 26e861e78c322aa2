"""ARI (RFC 9773) end to end against a real ARI server: Debian trixie's Pebble 2.6
(`tools/pebble26.sh` puts it in /opt/pebble26). `plan` fetches the window,
shows it and picks the same time twice; `apply` sends `replaces`, and when the CA
refuses it (another account) orders again without it and says so."""

from __future__ import annotations

import json
import os
import ssl
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from certplan.ca import ari_cert_id
from tests.integration.apply_project import CertplanProject
from tests.integration.modern_project import (
    PEBBLE26,
    assert_clean_failure,
    make_project,
    order_ids,
    standalone_spec,
    write_config,
)
from tests.servers.pebble import PebbleServer, start_pebble

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pebble26(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    if not os.access(PEBBLE26, os.X_OK):
        pytest.fail(f"{PEBBLE26} missing: run `make deps` (tools/pebble26.sh unpacks "
                    f"Debian trixie's pebble 2.6 there)", pytrace=False)
    server = start_pebble(tmp_path_factory.mktemp("pebble26"), pebble_binary=PEBBLE26)
    yield server
    server.stop()


@pytest.fixture
def project(tmp_path: Path, pebble26: PebbleServer) -> CertplanProject:
    return make_project(tmp_path / "ops", pebble26)


def renewal_info(pebble: PebbleServer, cert_id: str) -> dict[str, Any]:
    """What the CA says, fetched by the test itself (not through certplan)."""
    ctx = ssl.create_default_context(cafile=pebble.ca_bundle)
    with urllib.request.urlopen(pebble.directory_url, context=ctx, timeout=5) as r:
        base = json.load(r)["renewalInfo"]
    with urllib.request.urlopen(f"{base}/{cert_id}", context=ctx, timeout=5) as r:
        assert r.headers["Retry-After"]
        return dict(json.load(r))


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def plan_at(project: CertplanProject, *args: str) -> dict[str, Any]:
    res = project.run("plan", "--format", "json", "--verbose", *args)
    assert res.returncode == 0, res.stdout + res.stderr
    return dict(json.loads(res.stdout))


def test_plan_shows_the_ari_window_and_renews_inside_it(project: CertplanProject,
                                                        pebble26: PebbleServer) -> None:
    standalone_spec(project, "web", ["web.example.test"])
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    cert = project.state("web")["certificate"]
    assert cert["ari_id"] == ari_cert_id(cert["chain_pem"])
    window = renewal_info(pebble26, cert["ari_id"])["suggestedWindow"]
    start, end = ts(window["start"]), ts(window["end"])

    lookups = pebble26.log().count("GET /draft-ietf-acme-ari-03/renewalInfo/")
    first, second = plan_at(project), plan_at(project)  # --refresh is the default
    # the second plan honours the CA's Retry-After (6 h from Pebble): no second lookup
    assert pebble26.log().count("GET /draft-ietf-acme-ari-03/renewalInfo/") == lookups + 1
    cache = json.loads((project.root / ".certplan" / "ari-cache.json").read_text())
    assert [e["retry_after"] for e in cache["entries"].values()] == [21600]
    assert first["ari_refreshed"] is True and first["changes"] == []
    entry = first["unchanged"][0]
    assert f"ARI window {start:%Y-%m-%d %H:%M} UTC .. {end:%Y-%m-%d %H:%M} UTC" \
        in entry["reason"], entry["reason"]
    renew_at = ts(entry["renew_at"])
    assert start <= renew_at <= end
    # deterministic: the second plan picks the very same time in the window
    assert second["unchanged"][0]["renew_at"] == entry["renew_at"]

    # offline, the plan falls back to the lifetime rule and says it did not look
    offline = project.run("plan", "--no-refresh", "--verbose")
    assert "ARI: renewal windows were not fetched" in offline.stdout
    assert "1/3 of the lifetime left" in offline.stdout

    before = plan_at(project, "--at", (renew_at - timedelta(minutes=1)).isoformat())
    assert before["changes"] == []
    inside = plan_at(project, "--at", (renew_at + timedelta(minutes=1)).isoformat())
    change = inside["changes"][0]
    assert change["action"] == "renew"
    assert change["reason"].startswith(f"renewal window opened {renew_at:%Y-%m-%d %H:%M} UTC")
    assert "(ARI window " in change["reason"]
    text = project.run("plan", "--at", end.isoformat())
    assert "renewal window opened" in text.stdout and "ARI window" in text.stdout


def test_apply_sends_replaces_and_the_ca_links_the_orders(project: CertplanProject,
                                                          pebble26: PebbleServer) -> None:
    standalone_spec(project, "rep", ["rep.example.test"])
    assert project.apply().returncode == 0
    old = project.state("rep")["certificate"]
    res = project.apply("--replace", "rep")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "refused replaces" not in res.stdout + res.stderr
    new_order = order_ids(res.stderr)[-1]
    # Pebble logs which order replaced which, and refuses a second replacement
    # of the same certificate: the first one was recorded against `old`.
    assert f'ARI: order "{new_order}" is a replacement of' in pebble26.log()
    new = project.state("rep")["certificate"]
    assert new["serial"] != old["serial"] and new["ari_id"] != old["ari_id"]
    assert project.state("rep")["renewals"] == 1


def test_replaces_refused_for_another_account_is_retried_without(
        project: CertplanProject, pebble26: PebbleServer) -> None:
    standalone_spec(project, "moved", ["moved.example.test"])
    assert project.apply().returncode == 0
    old = project.state("moved")
    # another e-mail means another account key in the keystore: a different account,
    # which the CA does not allow to name the first account's certificate as replaced
    write_config(project, email="other@example.test")
    res = project.apply("--replace", "moved")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert f"the CA refused replaces={old['certificate']['ari_id']}" in out
    assert "did not request the certificate being replaced" in out
    assert "ordered without it" in out
    new = project.state("moved")
    assert new["certificate"]["serial"] != old["certificate"]["serial"]
    assert new["account_url"] != old["account_url"]


def test_profile_change_forces_a_new_certificate_and_an_unknown_one_fails(
        project: CertplanProject) -> None:
    # Pebble 2.6 advertises no profiles in its directory meta (2.7 does)
    standalone_spec(project, "prof", ["prof.example.test"])
    assert project.apply().returncode == 0
    before = project.state_bytes()
    standalone_spec(project, "prof", ["prof.example.test"], 'profile = "shortlived"')
    change = project.plan_json()["changes"][0]
    assert (change["action"], change["reason"]) == ("issue",
                                                    "profile: (CA default) -> shortlived")
    out = assert_clean_failure(project.apply())
    assert "prof: CA pebble advertises no profiles, so profile = 'shortlived' cannot be " \
           "honoured" in out, out
    assert project.state_bytes() == before  # nothing ordered, old certificate stays
