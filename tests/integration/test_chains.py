"""Alternate chains (Pebble with PEBBLE_ALTERNATE_ROOTS=2): `preferred_chain` names the
issuer CN at the top of the chain wanted; the installed full chain ends there and
verifies against that root. Without a preference, or with an unknown one, the
CA's default chain is installed."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from tests.integration.apply_project import CertplanProject
from tests.integration.modern_project import (
    installed_chain,
    issuer_cn,
    make_project,
    standalone_spec,
)
from tests.servers.pebble import PebbleServer, start_pebble

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pebble_alt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    server = start_pebble(tmp_path_factory.mktemp("pebble-alt"), alternate_roots=2)
    yield server
    server.stop()


@pytest.fixture
def project(tmp_path: Path, pebble_alt: PebbleServer) -> CertplanProject:
    return make_project(tmp_path / "ops", pebble_alt)


def root_cn(pebble: PebbleServer, index: int) -> str:
    root = x509.load_pem_x509_certificate(pebble.root_pem(index).encode())
    return issuer_cn(root)  # self-signed: issuer CN is its own CN


def verifies_against(project: CertplanProject, name: str, root_pem: str) -> bool:
    root = project.root / "root.pem"
    root.write_text(root_pem)
    chain = project.root / "out" / f"{name}.fullchain.pem"
    res = subprocess.run(["openssl", "verify", "-CAfile", str(root), "-untrusted", str(chain),
                          str(chain)], capture_output=True, text=True)
    return res.returncode == 0


@pytest.mark.parametrize("index", [1, 2])
def test_preferred_chain_installs_the_alternate(project: CertplanProject,
                                                pebble_alt: PebbleServer, index: int) -> None:
    wanted = root_cn(pebble_alt, index)
    assert wanted != root_cn(pebble_alt, 0)
    standalone_spec(project, "alt", ["alt.example.test"], f'preferred_chain = "{wanted}"')
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    chain = installed_chain(project, "alt")
    assert issuer_cn(chain[-1]) == wanted
    assert verifies_against(project, "alt", pebble_alt.root_pem(index))
    assert not verifies_against(project, "alt", pebble_alt.root_pem(0))
    # the state records the chain that was installed
    assert project.state("alt")["certificate"]["chain_pem"] == \
        (project.root / "out" / "alt.fullchain.pem").read_text()


@pytest.mark.parametrize("preferred", [None, "No Such Root CA"])
def test_default_chain_without_a_matching_preference(project: CertplanProject,
                                                     pebble_alt: PebbleServer,
                                                     preferred: str | None) -> None:
    extra = f'preferred_chain = "{preferred}"' if preferred else ""
    standalone_spec(project, "dflt", ["dflt.example.test"], extra)
    res = project.apply()
    assert res.returncode == 0, res.stdout + res.stderr
    assert issuer_cn(installed_chain(project, "dflt")[-1]) == root_cn(pebble_alt, 0)
    assert verifies_against(project, "dflt", pebble_alt.root_pem(0))
