"""`certplan plan --offline`: the pull-request plan. A fresh clone of a project holds
specs, state and certplan.toml, none of the installed files and no keystore; the
plan must come from those and the time alone, contacting nothing.

The clone's CA (and so its ARI endpoint) is a pytest-httpserver that records every
request, and one install target is an ssh host that is a bare listening socket:
the offline plan must leave both untouched, while the ordinary plan reaches for
both (the control that shows the traps work).
"""

from __future__ import annotations

import json
import select
import shutil
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from certplan.installers import SshTarget
from certplan.model.installed import fingerprint_of
from tests.integration.apply_project import CertplanProject
from tests.integration.modern_project import make_project
from tests.security.attacker import nginx_spec
from tests.servers.pebble import PebbleServer, pebble  # noqa: F401 - a fixture

pytestmark = pytest.mark.integration

NOTE = "installed files and ARI windows were not checked: --offline"


@pytest.fixture
def trap_port() -> Iterator[socket.socket]:
    """A listening socket that nobody accepts on: a connection to it stays pending."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s


def contacted(listener: socket.socket) -> bool:
    return bool(select.select([listener], [], [], 0.05)[0])


def ssh_target(port: int) -> SshTarget:
    return SshTarget(host="127.0.0.1", port=port, user="deploy",
                     fullchain_file="/srv/tls/shop.pem", reload="systemctl reload nginx")


def fresh_clone(host: CertplanProject, to: Path, directory: str, ssh: SshTarget) -> Path:
    """specs/, state/ and certplan.toml as git has them, the CA moved to `directory`,
    and an ssh target that state says is installed."""
    to.mkdir()
    shutil.copytree(host.root / "specs", to / "specs")
    shutil.copytree(host.root / "state", to / "state")
    config = (host.root / "certplan.toml").read_text()
    (to / "certplan.toml").write_text(config.replace(host.pebble.directory_url, directory))
    spec = to / "specs" / "shop.toml"
    spec.write_text(spec.read_text() + "[[certificate.install]]\n" + "\n".join(
        f"{k} = {json.dumps(v)}" for k, v in ssh.model_dump(exclude_none=True).items()
        if k not in ("key_mode", "cert_mode", "allow_shared_key", "timeout")) + "\n")
    record_path = to / "state" / "shop.json"
    record = json.loads(record_path.read_text())
    parts = {ssh.endpoint().place("/srv/tls/shop.pem"): "ab" * 32}
    record["installs"].append({"installer": "ssh", "digest": ssh.digest(),
                               "fingerprint": fingerprint_of(parts), "parts": parts,
                               "installed_at": datetime.now(UTC).isoformat()})
    record["ca_directory"] = directory
    record_path.write_text(json.dumps(record, indent=2))
    return to


def run(root: Path, host: CertplanProject, *args: str) -> tuple[int, str, str]:
    clone = CertplanProject(root, host.pebble)
    res = clone.run("plan", *args)
    return res.returncode, res.stdout, res.stderr


def test_a_fresh_clone_plans_offline_without_contacting_anything(
        tmp_path: Path, pebble: PebbleServer,  # noqa: F811
        httpserver: HTTPServer, trap_port: socket.socket) -> None:
    host = make_project(tmp_path / "host", pebble)
    nginx_spec(host, "shop", None, files={"key_file": host.root / "out" / "shop.key",
                                           "fullchain_file": host.root / "out" / "shop.pem"})
    res = host.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert host.state("shop")["certificate"]["ari_id"]
    shutil.rmtree(host.root / "out")  # the installed files are not on the CI machine
    ssh = ssh_target(trap_port.getsockname()[1])
    clone = fresh_clone(host, tmp_path / "clone", httpserver.url_for("/directory"), ssh)

    code, out, err = run(clone, host, "--offline", "--detailed-exitcode")
    assert code == 0, out + err
    assert "No changes" in out and NOTE in out
    assert httpserver.log == [] and not contacted(trap_port)

    code, md, err = run(clone, host, "--offline", "--format", "markdown")
    doc = json.loads(run(clone, host, "--offline", "--format", "json")[1])
    assert code == 0 and NOTE in md and doc["offline"] is True and doc["changes"] == []
    assert httpserver.log == [] and not contacted(trap_port)

    # what the specs change is still known offline: a target moved is an install
    spec = clone / "specs" / "shop.toml"
    spec.write_text(spec.read_text().replace("/srv/tls/shop.pem", "/srv/tls/new.pem"))
    code, out, err = run(clone, host, "--offline", "--detailed-exitcode", "--format", "json")
    (change,) = json.loads(out)["changes"]
    assert code == 2 and change["action"] == "install"
    assert change["reasons"] == ["install[1]: target changed"]
    assert httpserver.log == [] and not contacted(trap_port)

    # the control: the ordinary plan looks at the targets and asks the CA (ARI)
    spec.write_text(spec.read_text().replace("/srv/tls/new.pem", "/srv/tls/shop.pem"))
    trap_port.close()  # refused at once, rather than waiting for a banner
    code, out, err = run(clone, host, "--detailed-exitcode")
    assert code == 2, out + err
    assert "shop.key is missing" in out and "cannot be reached" in out
    assert httpserver.log != []  # the CA certplan.toml names was asked
