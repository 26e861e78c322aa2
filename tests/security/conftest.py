"""Fixtures for the trust-boundary tests: one Pebble for the session, nginx serving a
webroot per test, and a certplan project driven through the CLI as root runs it."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.apply_project import CertplanProject
from tests.servers.nginx import NginxServer, start_nginx
from tests.servers.pebble import PebbleServer, start_pebble


@pytest.fixture(scope="session")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    server = start_pebble(tmp_path_factory.mktemp("pebble"))
    yield server
    server.stop()


@pytest.fixture
def site(pebble: PebbleServer) -> Iterator[NginxServer]:
    workdir = Path(tempfile.mkdtemp(prefix="certplan-site-"))
    server = start_nginx(workdir, http_port=pebble.http_port)
    yield server
    server.stop()
    subprocess.run(["rm", "-rf", str(workdir)], check=False)


@pytest.fixture
def project(tmp_path: Path, pebble: PebbleServer) -> CertplanProject:
    p = CertplanProject(tmp_path / "ops", pebble)
    p.root.mkdir()
    p.write_config()
    return p


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A root-only file an attacker wants emptied, copied or overwritten."""
    path = tmp_path / "root-only" / "secret"
    path.parent.mkdir(mode=0o700)
    path.write_bytes(b"root's secret\n")
    os.chmod(path, 0o600)
    return path


def assert_refused(res: subprocess.CompletedProcess[str], *names: str) -> str:
    """Exit 1, no traceback, every name in the message; returns the output."""
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "Traceback" not in out, out
    for name in names:
        assert name in out, (name, out)
    return out
