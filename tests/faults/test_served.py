"""Issue 10, item 2 at apply time: files on disk and state agree, but what nginx serves
is another certificate (it was never reloaded after the files changed). Only a TLS
handshake tells; `apply` (and `plan --probe`) make it, reinstall that target and
run check, reload and verify; a plain `plan` (CI) asks no endpoint. Real Pebble,
real nginx, the CLI as its own process."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.apply_project import CertplanProject, spec_toml
from tests.servers.nginx import NginxServer, start_nginx

pytestmark = pytest.mark.integration

SETTLE = 10.0  # seconds for nginx's old workers to go after a reload


def served(site: NginxServer, expected: str, name: str = "localhost") -> str:
    deadline = time.monotonic() + SETTLE
    while (now := site.served_serial(name)) != expected.lower() \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    return now


def stale_nginx(project: CertplanProject, site: NginxServer, tmp_path: Path,
                name: str = "web") -> tuple[str, str]:
    """Issue serial A, then B, to `site`; then make nginx serve A again while the files
    on disk are B's, as state records (a reload that never happened): (A, B)."""
    assert project.apply().returncode == 0
    old = project.state(name)["certificate"]["serial"]
    kept = tmp_path / "old"
    kept.mkdir()
    for path in (site.key_path, site.cert_path):
        shutil.copy2(path, kept / path.name)
    res = project.apply("--replace", name)
    assert res.returncode == 0, res.stdout + res.stderr
    new = project.state(name)["certificate"]["serial"]
    assert served(site, new) == new.lower()
    current = {p: p.read_bytes() for p in (site.key_path, site.cert_path)}
    for path in current:
        shutil.copy2(kept / path.name, path)
    site.reload()
    assert served(site, old) == old.lower()
    for path, data in current.items():
        path.write_bytes(data)
    return old, new


def test_a_server_never_reloaded_is_reinstalled_and_reloaded(
        project: CertplanProject, site: NginxServer, tmp_path: Path) -> None:
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site))
    old, new = stale_nginx(project, site, tmp_path)
    url = f"https://127.0.0.1:{site.https_port}"

    # a plain plan (CI) asks no endpoint: files and state agree
    assert project.plan_json()["changes"] == []
    # on the host, --probe sees what nginx serves
    (change,) = project.plan_json("--probe")["changes"]
    assert (change["action"], change["install_targets"]) == ("install", [0])
    assert change["reasons"] == [f"install[0]: {url} serves serial {old}, current {new} "
                                 f"(check, reload and verify run again)"]

    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{url} serves serial {old}, current {new}" in res.stdout
    assert "install[0] unchanged on disk; ran" in res.stderr  # forced: files already right
    assert served(site, new) == new.lower()
    done = project.state("web")
    assert done["certificate"]["serial"] == new and done["renewals"] == 1
    assert [(i["status"], i["serial"]) for i in done["installs"]] == [("installed", new)]

    # now it serves the current certificate: nothing to do, nothing written
    before = project.state_bytes()
    again = project.apply()
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes." in again.stdout and "installing" not in again.stderr
    assert project.state_bytes() == before


def test_a_saved_plan_is_bound_as_it_was_made_with_or_without_probe(
        project: CertplanProject, site: NginxServer, tmp_path: Path) -> None:
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site))
    old, new = stale_nginx(project, site, tmp_path)

    # made without --probe (as in CI): not refused, and the stale server is named
    ci = tmp_path / "ci.plan"
    assert project.run("plan", "--no-refresh", "--out", str(ci)).returncode == 0
    res = project.run("apply", str(ci))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "not in the saved plan, made without --probe" in res.stdout + res.stderr
    assert served(site, old) == old.lower()  # left as it was

    # made with --probe on the host: carried out
    probed = tmp_path / "host.plan"
    assert project.run("plan", "--no-refresh", "--probe", "--out", str(probed)).returncode == 0
    res = project.run("apply", str(probed))
    assert res.returncode == 0, res.stdout + res.stderr
    assert served(site, new) == new.lower()
    assert project.state("web")["installs"][0]["serial"] == new


@pytest.fixture
def second(tmp_path: Path) -> Iterator[NginxServer]:
    """Another nginx (no webroot needed: the certificate is proven through `site`)."""
    workdir = Path(tempfile.mkdtemp(prefix="certplan-second-"))
    server = start_nginx(workdir)
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def test_an_endpoint_down_is_an_install_with_the_reason_and_holds_up_no_other(
        project: CertplanProject, site: NginxServer, second: NginxServer) -> None:
    project.write_spec("web.toml", spec_toml("web", ["web.example.test"], site.webroot, site))
    api = spec_toml("api", ["api.example.test"], site.webroot, second)
    project.write_spec("api.toml", api)
    first = project.apply()
    assert first.returncode == 0, first.stdout + first.stderr
    web_serial = project.state("web")["certificate"]["serial"]
    second.stop()  # api's endpoint no longer answers
    url = f"https://127.0.0.1:{second.https_port}"

    plan = project.plan_json("--probe")
    (change,) = plan["changes"]
    assert (change["certificate"], change["action"], change["install_targets"]) == \
        ("api", "install", [0])
    (reason,) = change["reasons"]
    assert reason.startswith(f"install[0]: {url} did not answer: connection refused")
    assert [u["certificate"] for u in plan["unchanged"]] == ["web"]

    web_before = project.state_bytes()["web.json"]
    res = project.apply()
    assert res.returncode == 1, res.stdout + res.stderr  # api's reload fails: nginx is down
    assert "api (install) failed" in res.stdout
    assert "web" not in [line.split()[0] for line in res.stdout.splitlines()
                         if line.endswith("FAILED")]
    assert project.state_bytes()["web.json"] == web_before  # unaffected
    assert served(site, web_serial, "web.example.test") == web_serial.lower()
    assert project.state("api")["installs"][0]["status"] == "failed"
