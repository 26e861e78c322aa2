"""Issue 9, case 1: state drives deletion and revocation.

State comes from git. A record a pull request adds (or copies from another
certificate) may propose a remove with on_remove.revoke / delete_files, but
only evidence on the host may destroy: the keystore's copy of that name's
certificate, serial for serial, and file bytes that are both what state
recorded and made from that copy. Real Pebble, real nginx, the CLI as cron runs it.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from tests.integration.apply_project import CertplanProject
from tests.integration.modern_project import assert_clean_failure
from tests.security.attacker import (
    cert_status,
    new_project,
    nginx_spec,
    sha256,
    state_path,
    write_state,
)
from tests.servers.nginx import NginxServer, nginx  # noqa: F401
from tests.servers.pebble import PebbleServer, pebble  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture
def project(tmp_path: Path, pebble: PebbleServer) -> CertplanProject:  # noqa: F811
    return new_project(tmp_path / "ops", pebble)


def victim(tmp_path: Path) -> Path:
    """A file of the host's that certplan never wrote (root's, as sshd_config is)."""
    path = tmp_path / "etc" / "ssh" / "sshd_config"
    path.parent.mkdir(parents=True)
    path.write_text("PermitRootLogin no\n")
    return path


def shop(project: CertplanProject, site: NginxServer) -> dict[str, object]:
    """A legitimate certificate installed into nginx; its state record."""
    nginx_spec(project, "shop", site)
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    return project.state("shop")


@pytest.mark.parametrize("revoke", [True, False])
def test_a_crafted_record_deletes_and_revokes_nothing(
        project: CertplanProject, nginx: NginxServer, tmp_path: Path,  # noqa: F811
        pebble: PebbleServer, revoke: bool) -> None:  # noqa: F811
    record = shop(project, nginx)
    serial = str(record["certificate"]["serial"])  # type: ignore[index]
    target = victim(tmp_path)
    before = {p: p.read_bytes() for p in (target, nginx.key_path, nginx.cert_path)}
    # the pull request: shop's record copied as "evil", pointing at a host file
    # (with its correct hash) and at nginx's files, asking to revoke and delete
    evil = copy.deepcopy(record)
    evil["name"] = "evil"
    evil["on_remove"] = {"revoke": revoke, "delete_files": True}
    evil["installs"][0]["parts"] = {  # type: ignore[index]
        str(target): sha256(target), str(nginx.key_path): sha256(nginx.key_path),
        str(nginx.cert_path): sha256(nginx.cert_path)}
    write_state(project, "evil", evil)

    plan = project.plan_json()
    (change,) = plan["changes"]
    assert (change["certificate"], change["action"]) == ("evil", "remove")
    assert str(target) in change["delete_paths"]
    # nginx's files are shop's: the plan keeps them whatever the record says (issue 10)
    assert str(nginx.key_path) not in change["delete_paths"]
    assert f"keeps {nginx.key_path}: certificate 'shop' installs it" in change["reasons"]
    assert change["revoke_serial"] == (serial if revoke else None)
    text = project.run("plan", "--no-refresh").stdout
    assert f"deletes {target} if its bytes are what certplan installed" in text

    out = assert_clean_failure(project.apply())
    field = "certificate.serial" if revoke else "on_remove.delete_files"
    assert "state record 'evil' in the state folder" in out and f"field {field}" in out
    assert "the keystore holds no certificate for 'evil'" in out
    assert {p: p.read_bytes() for p in before} == before  # nothing deleted
    assert cert_status(pebble, serial) == "Valid"  # shop's certificate is not revoked
    assert state_path(project, "evil").exists()  # kept for a person to look at


def test_a_record_copied_onto_another_name_does_not_revoke_the_other_certificate(
        project: CertplanProject, pebble: PebbleServer) -> None:  # noqa: F811
    """`certplan revoke a` and a remove of `a` with state/a.json holding b's
    certificate: the keystore's certificate for a has another serial; b stays valid."""
    nginx_spec(project, "a", None, files={"cert_file": project.root / "out" / "a.crt"})
    nginx_spec(project, "b", None, files={"cert_file": project.root / "out" / "b.crt"})
    res = project.apply("--parallel", "1")  # one built-in http-01 server at a time
    assert res.returncode == 0, res.stdout + res.stderr
    a, b = project.state("a"), project.state("b")
    forged = dict(a, certificate=b["certificate"], on_remove={"revoke": True,
                                                              "delete_files": False})
    write_state(project, "a", forged)
    b_serial = str(b["certificate"]["serial"])
    a_serial = str(a["certificate"]["serial"])

    out = assert_clean_failure(project.run("revoke", "a", "--yes"))
    assert f"field certificate.serial: the keystore's certificate for 'a' is serial " \
           f"{a_serial}, not {b_serial}; not revoked" in out
    os.unlink(project.root / "specs" / "a.toml")  # and as a remove
    out = assert_clean_failure(project.apply())
    assert "not revoked" in out
    assert cert_status(pebble, b_serial) == "Valid"
    assert cert_status(pebble, a_serial) == "Valid"


def test_a_legitimate_remove_deletes_exactly_what_certplan_wrote(
        project: CertplanProject, nginx: NginxServer, tmp_path: Path,  # noqa: F811
        pebble: PebbleServer) -> None:  # noqa: F811
    out = project.root / "out"
    files = {"key_file": out / "site.key", "cert_file": out / "site.crt",
             "chain_file": out / "chain.pem"}
    nginx_spec(project, "gone", nginx, extra="on_remove = { revoke = true, delete_files = true }",
               files=files)
    assert project.apply().returncode == 0
    serial = str(project.state("gone")["certificate"]["serial"])
    bystander = out / "notes.txt"
    bystander.write_text("not certplan's\n")
    files["cert_file"].write_text("edited by a person\n")  # no longer certplan's bytes
    (project.root / "specs" / "gone.toml").unlink()

    change = project.plan_json()["changes"][0]
    written = sorted(str(p) for p in [*files.values(), nginx.key_path, nginx.cert_path])
    assert change["action"] == "remove" and change["delete_paths"] == written
    assert change["revoke_serial"] == serial

    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"revoked serial {serial}" in res.stdout
    assert f"kept {files['cert_file']}: its bytes are not what certplan installed" in res.stdout
    assert files["cert_file"].read_text() == "edited by a person\n"
    assert bystander.exists()
    for path in (files["key_file"], files["chain_file"], nginx.key_path, nginx.cert_path):
        assert not path.exists(), path
    assert not state_path(project, "gone").exists()
    assert cert_status(pebble, serial) == "Revoked"
