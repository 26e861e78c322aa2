"""A corrupt state file fails only its own certificate (issue 10, item 12), through the
CLI against real Pebble: the others plan and apply, the broken one is named (file and
reason) and never touched, and the run exits 1 unless it is left out by --target."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.apply_project import CertplanProject
from tests.integration.modern_project import make_project, standalone_spec
from tests.servers.pebble import PebbleServer, pebble  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


@pytest.fixture
def two(tmp_path: Path, pebble: PebbleServer) -> CertplanProject:  # noqa: F811
    """Two issued certificates, then state/broken.json cut in half."""
    project = make_project(tmp_path / "ops", pebble)
    standalone_spec(project, "broken", ["broken.example.test"])
    standalone_spec(project, "other", ["other.example.test"])
    res = project.apply("--parallel", "1")
    assert res.returncode == 0, res.stdout + res.stderr
    path = project.root / "state" / "broken.json"
    path.write_bytes(path.read_bytes()[:200])
    return project


def test_plan_names_the_broken_record_and_plans_the_others(two: CertplanProject) -> None:
    res = two.run("plan", "--no-refresh", "--replace", "other")
    out = res.stdout + res.stderr
    assert res.returncode == 1 and "Traceback" not in out, out
    assert "~   other" in res.stdout  # the other is planned as usual
    assert "Error: broken: not planned, left as it is: " in res.stdout
    assert "state/broken.json: not valid JSON" in res.stdout
    assert "Error: not planned because its state record does not load: broken" in res.stderr
    res = two.run("plan", "--no-refresh", "--format", "json")
    assert res.returncode == 1
    assert '"problems": [\n    {"certificate": "broken", "problem": ' in res.stdout
    # validate reports it like every other problem
    res = two.run("validate")
    assert res.returncode == 1 and "state/broken.json: not valid JSON" in res.stderr


def test_apply_target_other_works(two: CertplanProject) -> None:
    before = (two.root / "state" / "broken.json").read_bytes()
    serial = two.state("other")["certificate"]["serial"]
    res = two.apply("--target", "other", "--replace", "other")
    assert res.returncode == 0, res.stdout + res.stderr
    assert two.state("other")["certificate"]["serial"] != serial
    assert (two.root / "state" / "broken.json").read_bytes() == before


def test_plain_apply_applies_the_others_and_exits_1_naming_the_broken(
        two: CertplanProject) -> None:
    before = (two.root / "state" / "broken.json").read_bytes()
    installed = (two.root / "out" / "broken.fullchain.pem").read_bytes()
    serial = two.state("other")["certificate"]["serial"]
    res = two.apply("--replace", "other")
    out = res.stdout + res.stderr
    assert res.returncode == 1 and "Traceback" not in out, out
    assert "Apply: 1 done, 0 failed." in res.stdout
    assert two.state("other")["certificate"]["serial"] != serial
    assert "state/broken.json: not valid JSON" in out
    assert "not planned because its state record does not load: broken" in res.stderr
    # never acted on: no order, no install, the file as it was
    assert "broken: order" not in out
    assert (two.root / "state" / "broken.json").read_bytes() == before
    assert (two.root / "out" / "broken.fullchain.pem").read_bytes() == installed
    # nothing else to do: still exit 1 naming it
    res = two.apply()
    assert res.returncode == 1 and "broken" in res.stderr
    assert two.apply("--target", "other").returncode == 0


def test_show_and_revoke_name_the_broken_record(two: CertplanProject) -> None:
    for args in (("show", "broken"), ("revoke", "broken", "--yes")):
        res = two.run(*args)
        assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
        assert "broken: its state record does not load: " in res.stderr
        assert "state/broken.json: not valid JSON" in res.stderr
