"""The planner and renderers with a certificate whose state record does not load:
no change for it, a problem row naming it; the others are planned as usual."""

from __future__ import annotations

import json

from certplan.core.plan import Action, make_plan
from certplan.core.render import render_json, render_markdown, render_text
from certplan.model.observed import Observations
from tests.unit.test_plan import NOW, desired, record

WHY = "state/www.json: not valid JSON: Expecting value at line 1"


def test_broken_record_gets_a_problem_not_a_change() -> None:
    www, api = desired("www"), desired("api", ["api.example.com"])
    plan = make_plan([www, api], {"api": record(api)}, Observations(), NOW,
                     replace=["www", "api"], broken={"www": WHY})
    assert [(c.name, c.action) for c in plan.changes] == [("api", Action.RENEW)]
    assert plan.problems == (("www", WHY),)
    # a broken record without a spec is not removed either
    gone = make_plan([api], {"api": record(api)}, Observations(), NOW, broken={"www": WHY})
    assert gone.changes == () and gone.problems == (("www", WHY),)


def test_targets_leave_a_broken_record_out() -> None:
    www, api = desired("www"), desired("api", ["api.example.com"])
    plan = make_plan([www, api], {"api": record(api)}, Observations(), NOW,
                     targets=["api"], broken={"www": WHY})
    assert plan.problems == () and [c.name for c in plan.noops] == ["api"]


def test_renderers_show_the_problem() -> None:
    www = desired("www")
    plan = make_plan([www], {}, Observations(), NOW, broken={"www\x1b[31m": WHY})
    text = render_text(plan)
    assert ("Error: www\\x1b[31m: not planned, left as it is: " + WHY
            + "; fix or remove the file by hand") in text
    assert "> **Error:** www" in render_markdown(plan)
    doc = json.loads(render_json(plan))
    assert doc["problems"] == [{"certificate": "www\x1b[31m", "problem": WHY}]
    assert "problems" not in json.loads(render_json(make_plan([], {}, Observations(), NOW)))
