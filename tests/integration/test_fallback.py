"""CA fallback: `ca = ["dead", "pebble"]` where the first CA's directory is a closed
port. The plan names the CA tried first; apply falls back, issues from Pebble,
says so, and the state records the CA that issued."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.modern_project import make_project, standalone_spec
from tests.servers.pebble import PebbleServer, pebble  # noqa: F401
from tests.servers.ports import free_port

pytestmark = pytest.mark.integration


def test_unreachable_first_ca_falls_back_to_the_next(tmp_path: Path,
                                                     pebble: PebbleServer) -> None:  # noqa: F811
    dead = f"https://127.0.0.1:{free_port()}/directory"  # nothing listens there
    project = make_project(tmp_path / "ops", pebble, extra=f'[ca.dead]\ndirectory = "{dead}"\n')
    standalone_spec(project, "fb", ["fb.example.test"], 'ca = ["dead", "pebble"]')
    change = project.plan_json()["changes"][0]
    assert (change["action"], change["ca"]) == ("issue", "dead")

    res = project.apply()
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert f"fb: CA dead failed (CA unreachable: {dead}" in res.stderr, res.stderr
    assert "trying pebble" in res.stderr
    assert "fell back after: dead: CA unreachable" in res.stdout
    record = project.state("fb")
    assert (record["ca"], record["ca_directory"]) == ("pebble", pebble.directory_url)
    # issued by the second CA is not a reason for a new certificate
    assert project.plan_json()["changes"] == []


def test_every_ca_failing_lists_each(tmp_path: Path,
                                     pebble: PebbleServer) -> None:  # noqa: F811
    dead1, dead2 = (f"https://127.0.0.1:{free_port()}/dir" for _ in range(2))
    project = make_project(tmp_path / "ops", pebble, extra=(
        f'[ca.dead1]\ndirectory = "{dead1}"\n[ca.dead2]\ndirectory = "{dead2}"\n'))
    standalone_spec(project, "none", ["none.example.test"], 'ca = ["dead1", "dead2"]')
    res = project.apply()
    assert res.returncode == 1
    assert "Traceback" not in res.stdout + res.stderr
    assert "every CA failed: dead1: CA unreachable" in res.stdout
    assert "| dead2: CA unreachable" in res.stdout
    assert not (project.root / "state" / "none.json").exists()
