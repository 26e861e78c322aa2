"""A certplan project and a test CA for the import tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from certplan.cli import app
from tests.importers.trees import SigningCA

CONFIG = """[defaults]
ca = "letsencrypt"
email = "ops@example.com"
agree_tos = true
"""


@pytest.fixture(scope="session")
def test_ca() -> SigningCA:
    return SigningCA()


@pytest.fixture
def ops(tmp_path: Path) -> Path:
    root = tmp_path / "ops"
    (root / "specs").mkdir(parents=True)
    (root / "state").mkdir()
    (root / "certplan.toml").write_text(CONFIG)
    return root


def run(root: Path, *args: str) -> Result:
    """The CLI in process (`-C` changes the working folder: restored after)."""
    here = os.getcwd()
    try:
        return CliRunner().invoke(app, ["-C", str(root), *args])
    finally:
        os.chdir(here)
