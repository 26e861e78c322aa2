"""Rendering a plan as text, markdown and JSON, checked against golden files.

Regenerate the golden files after an intended change of output with
`UPDATE_GOLDEN=1 .venv/bin/pytest -q tests/unit/test_render.py`, then review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from certplan.core.plan import Plan, make_plan
from certplan.core.render import RENDERERS, plan_json, render_text, summary
from certplan.model.observed import Observations
from tests.unit.test_plan import DAY, NOW, desired, fleet, observed, record, target

GOLDEN = Path(__file__).parent / "golden"
EXT = {"text": "txt", "markdown": "md", "json": "json"}


def all_actions_plan() -> Plan:
    """issue x2, renew, install (two reasons, the paths written), remove, a noop, and
    warnings (a short margin, a key the group can read)."""
    specs, recs = fleet()
    two = desired("e-two", ["e.example.com", "www.e.example.com", "api.e.example.com"],
                  install=[target(5), target(6, key_mode="0640", allow_shared_key=True)])
    recs["e-two"] = record(desired("e-two", ["e.example.com", "www.e.example.com",
                                             "api.e.example.com"], install=[target(5)]))
    short = desired("f-short", ["f.example.com"])
    recs["f-short"] = record(short, not_before=NOW - DAY / 4, lifetime=DAY)
    files = {"/srv/t5/site.key": None, "/srv/t5/fullchain.pem": "sha-of-/srv/t5/fullchain.pem"}
    return make_plan([*specs, two, short], recs, observed(files, two), NOW)


def empty_plan() -> Plan:
    return make_plan([], {}, Observations(ari_refreshed=True), NOW)


PLANS = {"all_actions": all_actions_plan, "empty": empty_plan}


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


@pytest.mark.parametrize("fmt", list(EXT))
@pytest.mark.parametrize("plan_name", list(PLANS))
def test_golden(plan_name: str, fmt: str) -> None:
    plan = PLANS[plan_name]()
    check_golden(f"{plan_name}.{EXT[fmt]}", RENDERERS[fmt](plan, False))
    if fmt != "json":
        check_golden(f"{plan_name}.verbose.{EXT[fmt]}", RENDERERS[fmt](plan, True))


def test_text_legend_lists_only_present_actions() -> None:
    plan = make_plan([desired()], {}, Observations(), NOW)
    text = render_text(plan)
    assert text.splitlines()[0] == "Actions: + issue a new certificate"
    assert text.rstrip().endswith("Plan: 1 to issue, 0 to renew, 0 to install, 0 to remove.")


def test_json_structure() -> None:
    doc = json.loads(RENDERERS["json"](all_actions_plan(), False))
    assert doc["format_version"] == 1
    assert doc["summary"] == {"issue": 2, "renew": 1, "install": 2, "remove": 1}
    for change in doc["changes"]:
        assert {"certificate", "action", "reason", "domains"} <= set(change)
        assert isinstance(change["domains"], list) and change["reason"]
    assert [c["certificate"] for c in doc["unchanged"]] == ["d-ok", "f-short"]
    assert doc == plan_json(all_actions_plan()) | {}  # same data, serialisable


def test_summary_counts() -> None:
    assert summary(empty_plan()) == "Plan: 0 to issue, 0 to renew, 0 to install, 0 to remove."
