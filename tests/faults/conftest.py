"""Fault injection against real Pebble and nginx: the `pebble` of this package
(shared by its modules), and `site` and `project` from the apply fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.apply_fixtures import project, site
from tests.servers.pebble import PebbleServer, start_pebble

__all__ = ["pebble", "project", "site"]


@pytest.fixture(scope="package")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    server = start_pebble(tmp_path_factory.mktemp("pebble"))
    yield server
    server.stop()
