"""Saved plans: exact round trip, refused when state or inputs moved on."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certplan.core.plan import Plan, make_plan
from certplan.core.planfile import KIND, changes_digest, match_current
from certplan.load import load_project
from certplan.model.errors import CertplanError, StalePlanError
from certplan.model.observed import Observations
from certplan.model.project import Project
from certplan.ops.planfiles import load_plan, save_plan
from tests.unit.stateutil import save_record, state_of
from tests.unit.test_plan import desired, record
from tests.unit.test_project import write_project

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)


def setup(root: Path) -> tuple[Project, Path]:
    project = load_project(write_project(root))
    save_record(project, record(desired("gone", ["gone.example.com"])))
    return project, root / "plan.json"


def fresh_plan(project: Project) -> Plan:
    state = state_of(project)
    return make_plan(project.desired, state.records, Observations(), NOW)


def test_round_trip(tmp_path: Path) -> None:
    project, out = setup(tmp_path)
    plan = fresh_plan(project)
    state = state_of(project)
    save_plan(out, plan, state, project)
    doc = json.loads(out.read_text())
    assert (doc["kind"], doc["lineage"], doc["serial"]) == (KIND, state.lineage, 1)
    loaded = load_plan(out, state, project)
    assert loaded.changes == plan.changes and loaded.now == plan.now
    assert [c.action.value for c in loaded.changes] == ["issue", "issue", "remove"]


def test_stale_when_serial_changed(tmp_path: Path) -> None:
    project, out = setup(tmp_path)
    save_plan(out, fresh_plan(project), state_of(project), project)
    save_record(project, record(desired("other", ["o.example.com"])))
    with pytest.raises(StalePlanError, match=r"state moved on since it was made \(serial 1, "
                                             r"now 2\)"):
        load_plan(out, state_of(project), project)


def test_stale_when_lineage_changed(tmp_path: Path) -> None:
    project, out = setup(tmp_path)
    save_plan(out, fresh_plan(project), state_of(project), project)
    paths = project.config.paths.model_copy(update={"state": "another-state"})
    other = Project(root=project.root, config=project.config.model_copy(update={"paths": paths}))
    save_record(other, record(desired("gone", ["gone.example.com"])))
    assert state_of(other).serial == state_of(project).serial == 1
    with pytest.raises(StalePlanError, match="made for another state"):
        load_plan(out, state_of(other), project)


@pytest.mark.parametrize("edit", ["spec", "new-spec", "config"])
def test_stale_when_inputs_changed(tmp_path: Path, edit: str) -> None:
    project, out = setup(tmp_path)
    save_plan(out, fresh_plan(project), state_of(project), project)
    if edit == "spec":
        spec = tmp_path / "specs" / "www.toml"
        spec.write_text(spec.read_text().replace('"www.example.com"', '"w.example.com"'))
    elif edit == "new-spec":
        (tmp_path / "specs" / "z.toml").write_text("")
    else:
        with (tmp_path / "certplan.toml").open("a") as fh:
            fh.write("\n# a comment counts too\n")
    with pytest.raises(StalePlanError, match="certplan.toml or the specs changed"):
        load_plan(out, state_of(project), project)


def test_unchanged_inputs_with_a_new_project_object(tmp_path: Path) -> None:
    project, out = setup(tmp_path)
    save_plan(out, fresh_plan(project), state_of(project), project)
    again = load_project(tmp_path)
    assert load_plan(out, state_of(again), again).changes


@pytest.mark.parametrize("content,message", [
    ("{", "not a saved plan (invalid JSON)"),
    ('{"kind": "terraform"}', "not a saved plan (made by `certplan plan --out`)"),
    (json.dumps({"kind": KIND, "version": 99}), "saved plan version 99 is not supported"),
])
def test_not_a_plan(tmp_path: Path, content: str, message: str) -> None:
    project, out = setup(tmp_path)
    out.write_text(content)
    with pytest.raises(CertplanError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_plan(out, state_of(project), project)


def test_damaged_body(tmp_path: Path) -> None:
    project, out = setup(tmp_path)
    state = state_of(project)
    save_plan(out, fresh_plan(project), state, project)
    doc = json.loads(out.read_text())
    del doc["changes"][0]["reasons"]
    out.write_text(json.dumps(doc))
    with pytest.raises(CertplanError, match="field changes_sha256 does not match"):
        load_plan(out, state, project)
    doc["changes_sha256"] = changes_digest(doc["changes"])
    out.write_text(json.dumps(doc))
    with pytest.raises(CertplanError, match="saved plan is damaged"):
        load_plan(out, state, project)


def test_edited_changes_are_refused_by_their_digest(tmp_path: Path) -> None:
    project, out = setup(tmp_path)
    state = state_of(project)
    save_plan(out, fresh_plan(project), state, project)
    doc = json.loads(out.read_text())
    doc["changes"][-1]["revoke"] = True
    out.write_text(json.dumps(doc))
    with pytest.raises(CertplanError, match=r"plan.json: field changes_sha256 does not match"):
        load_plan(out, state, project)


def test_a_saved_change_must_be_what_certplan_would_plan_now(tmp_path: Path) -> None:
    """The digest proves nothing against whoever recomputes it: apply plans again
    and refuses a saved change that certplan would not make now."""
    project, _ = setup(tmp_path)
    now = fresh_plan(project)
    assert match_current(now, now, "p.json").changes == now.changes
    gone = now.changes[-1]
    forged = [
        (replace(gone, revoke=True), "changes[2] ('gone'): field revoke is true in the "
                                     "saved plan but certplan would plan false now"),
        (replace(gone, delete_paths=("/etc/passwd",)), "field delete_paths"),
        (replace(gone, name="nobody-knows"), "certplan would plan nothing for this name now"),
        (now.changes[0], "a second change for the same certificate"),
    ]
    for change, message in forged:
        saved = replace(now, changes=now.changes[:2] + (change,))
        with pytest.raises(CertplanError, match=re.escape(message)):
            match_current(saved, now, "p.json")
    # case 9: a remove with revoke and delete_files added for a spec that still exists
    www = next(c for c in now.changes if c.name == "www")
    added = replace(gone, name="www", domains=www.domains, revoke=True, delete_files=True)
    with pytest.raises(CertplanError, match=re.escape(
            "changes[0] ('www'): field action is remove in the saved plan but certplan "
            "would plan issue now")):
        match_current(replace(now, changes=(added,)), now, "p.json")
    # the explanation may differ (ARI windows move, time passes); the action may not
    reworded = replace(now, changes=tuple(replace(c, reasons=("old words",))
                                          for c in now.changes))
    assert match_current(reworded, now, "p.json").changes == now.changes
    # a subset is fine: what is not in the file waits for the next plan
    assert match_current(replace(now, changes=now.changes[2:]), now, "p").changes == \
        now.changes[2:]


def test_missing_file(tmp_path: Path) -> None:
    project, out = setup(tmp_path)
    with pytest.raises(CertplanError, match="cannot read the saved plan"):
        load_plan(out, state_of(project), project)
