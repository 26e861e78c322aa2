"""Issue 10, items 6 and 8 against real Pebble and nginx, through the CLI:
a renamed spec with on_remove.delete_files keeps the files its new name installs
(under --parallel); a damaged keystore key never reaches nginx."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from certplan.model.crypto import load_key, verify_issued
from tests.faults.test_install_crash import served
from tests.integration.apply_project import CertplanProject, spec_toml
from tests.servers.nginx import NginxServer

pytestmark = pytest.mark.integration

DELETE_FILES = "[certificate.on_remove]\ndelete_files = true\n"


def test_a_renamed_spec_keeps_its_files_under_parallel_apply(
        project: CertplanProject, site: NginxServer) -> None:
    project.write_spec("www.toml", spec_toml("www", ["www.example.test"], site.webroot, site)
                       + DELETE_FILES)
    first = project.apply()
    assert first.returncode == 0, first.stdout + first.stderr
    (project.root / "specs" / "www.toml").unlink()
    project.write_spec("shop.toml", spec_toml("shop", ["www.example.test"], site.webroot, site)
                       + DELETE_FILES)

    plan = {c["certificate"]: c for c in project.plan_json()["changes"]}
    assert plan["shop"]["action"] == "issue" and plan["www"]["action"] == "remove"
    assert plan["www"]["delete_paths"] == []
    for path in (site.key_path, site.cert_path):
        assert f"keeps {path}: certificate 'shop' installs it" in plan["www"]["reasons"]

    res = project.apply("--parallel", "4")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"kept {site.key_path}: a wanted certificate installs it" in res.stdout + res.stderr
    assert not (project.root / "state" / "www.json").exists()
    serial = project.state("shop")["certificate"]["serial"]
    assert served(site, serial) == serial.lower()
    verify_issued(site.cert_path.read_bytes(), load_key(site.key_path.read_bytes()), [])
    assert project.plan_json()["changes"] == []


def test_a_truncated_keystore_key_is_not_installed(project: CertplanProject,
                                                   site: NginxServer) -> None:
    project.write_spec("shop.toml", spec_toml("shop", ["shop.example.test"], site.webroot, site))
    first = project.apply()
    assert first.returncode == 0, first.stdout + first.stderr
    serial = project.state("shop")["certificate"]["serial"]
    stored = project.root / ".certplan" / "certs" / "shop" / "current" / "key.pem"
    stored.write_bytes(stored.read_bytes()[:100])
    site.key_path.unlink()  # drift: the plan reinstalls from the keystore
    cert_before = site.cert_path.read_bytes()

    res = project.apply()
    assert res.returncode == 1
    out = res.stdout + res.stderr
    assert ".certplan/certs/shop/current/key.pem: not a readable unencrypted PEM private " \
        "key" in out
    assert "nothing installed" in out and "Traceback" not in out
    assert not site.key_path.exists() and site.cert_path.read_bytes() == cert_before
    assert served(site, serial) == serial.lower()  # nginx never saw the damaged key
    assert subprocess.run(["nginx", "-p", str(site.prefix), "-c", str(site.conf), "-t"],
                          capture_output=True).returncode != 0  # honest: the key is gone
    state = project.state("shop")
    assert [i["status"] for i in state["installs"]] == ["failed"]


def test_written_key_is_readable_by_openssl(project: CertplanProject, site: NginxServer,
                                            tmp_path: Path) -> None:
    """The pair certplan installs is one openssl reads and matches (item 8's check)."""
    project.write_spec("shop.toml", spec_toml("shop", ["shop.example.test"], site.webroot, site))
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    pkey = subprocess.run(["openssl", "pkey", "-in", str(site.key_path), "-pubout"],
                          capture_output=True, text=True, check=True).stdout
    cert = subprocess.run(["openssl", "x509", "-in", str(site.cert_path), "-noout", "-pubkey"],
                          capture_output=True, text=True, check=True).stdout
    assert pkey == cert
