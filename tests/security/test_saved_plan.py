"""Issue 9, case 9: saved plans are not bound to their contents.

A saved plan is a file anyone who can write it (or a pull request) can edit.
Adding a remove with revoke and delete_files for a certificate whose spec still
exists, with every digest intact, must revoke and delete nothing: apply plans
again and carries out a saved change only if certplan would make exactly it now.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certplan.core.planfile import changes_digest
from tests.integration.apply_project import CertplanProject
from tests.integration.modern_project import assert_clean_failure
from tests.security.attacker import cert_status, new_project, nginx_spec
from tests.servers.nginx import NginxServer, nginx  # noqa: F401
from tests.servers.pebble import PebbleServer, pebble  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture
def project(tmp_path: Path, pebble: PebbleServer) -> CertplanProject:  # noqa: F811
    return new_project(tmp_path / "ops", pebble)


@pytest.mark.parametrize("digest", ["recomputed", "left as it was"])
def test_a_remove_added_to_a_saved_plan_is_refused(
        project: CertplanProject, nginx: NginxServer, pebble: PebbleServer,  # noqa: F811
        digest: str) -> None:
    nginx_spec(project, "shop", nginx)
    assert project.apply().returncode == 0
    serial = str(project.state("shop")["certificate"]["serial"])
    files = {p: p.read_bytes() for p in (nginx.key_path, nginx.cert_path)}
    state_before = project.state_bytes()
    nginx_spec(project, "blog", None, files={"cert_file": project.root / "out" / "blog.crt"})
    planfile = project.root / "tonight.plan.json"
    made = project.run("plan", "--no-refresh", "--out", str(planfile))
    assert made.returncode == 0, made.stderr

    doc = json.loads(planfile.read_text())
    doc["changes"].append({
        "name": "shop", "action": "remove", "reasons": ["no spec declares it any more"],
        "domains": ["shop.example.test"], "ca": "pebble", "key": "ec-256", "renew_at": None,
        "not_after": None, "install_targets": [], "revoke": True, "delete_files": True,
        "delete_paths": sorted(str(p) for p in files), "revoke_serial": serial})
    if digest == "recomputed":  # anyone can: it proves nothing on its own
        doc["changes_sha256"] = changes_digest(doc["changes"])
    planfile.write_text(json.dumps(doc))

    out = assert_clean_failure(project.run("apply", str(planfile)))
    if digest == "recomputed":
        assert f"{planfile}: changes[1] ('shop'): field action is remove in the saved plan " \
               f"but certplan would plan noop now; nothing applied" in out
    else:
        assert f"{planfile}: field changes_sha256 does not match the changes" in out
    assert cert_status(pebble, serial) == "Valid"
    assert {p: p.read_bytes() for p in files} == files
    assert project.state_bytes() == state_before  # nothing at all was applied
    assert not (project.root / "out" / "blog.crt").exists()
