"""Fixtures for the trust-boundary tests: one Pebble for the session, nginx serving a
webroot per test, and a certplan project driven through the CLI as root runs it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.apply_fixtures import project, site  # noqa: F401  (fixtures)
from tests.servers.pebble import PebbleServer, start_pebble


@pytest.fixture(scope="session")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    server = start_pebble(tmp_path_factory.mktemp("pebble"))
    yield server
    server.stop()


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
