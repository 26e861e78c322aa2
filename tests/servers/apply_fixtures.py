"""Fixtures shared by the tests that drive `certplan apply` against Pebble and nginx.

Import them into a test module or conftest (`from tests.servers.apply_fixtures import
project, site`); each needs a `pebble` fixture in scope, which the importing module
defines with the Pebble settings it wants.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.apply_project import CertplanProject
from tests.servers.nginx import NginxServer, start_nginx
from tests.servers.pebble import PebbleServer


@pytest.fixture
def site(pebble: PebbleServer) -> Iterator[NginxServer]:
    """nginx serving a webroot on the port Pebble's validator dials (its folder
    outside tmp_path: nginx workers must be able to reach it)."""
    workdir = Path(tempfile.mkdtemp(prefix="certplan-site-"))
    server = start_nginx(workdir, http_port=pebble.http_port)
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def project(tmp_path: Path, pebble: PebbleServer) -> CertplanProject:
    """An empty certplan project (certplan.toml pointing at `pebble`) in tmp_path/ops."""
    p = CertplanProject(tmp_path / "ops", pebble)
    p.root.mkdir()
    p.write_config()
    return p
