"""Rendering a plan as text, markdown and JSON, checked against golden files.

Regenerate the golden files after an intended change of output with
`UPDATE_GOLDEN=1 .venv/bin/pytest -q tests/unit/test_render.py`, then review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from certplan.core.plan import Plan, make_plan
from certplan.core.render import RENDERERS, plan_json, render_text, summary
from certplan.model.observed import AriWindow, Observations
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
    # an issue and a renewal with commands: the plan lists every target and what runs
    hooks = desired("g-hooks", ["g.example.com"], install=[target(
        8, check="nginx -t", reload="nginx -s reload", verify="127.0.0.1:443")])
    due = desired("h-due", ["h.example.com"], install=[
        target(9, check="apachectl configtest", reload="apachectl graceful"), target(10)])
    recs["h-due"] = record(due, not_before=NOW - 80 * DAY)
    files = {"/srv/t5/site.key": None, "/srv/t5/fullchain.pem": "sha-of-/srv/t5/fullchain.pem"}
    return make_plan([*specs, two, short, hooks, due], recs, observed(files, two), NOW)


HOSTILE_URL = "https://ca.test/why ![img](https://evil.test/p.png) <img src=x> [t](u)"
HOSTILE_PATH = "/srv/x\x1b[2J\r![i](https://evil.test/i.png)<img src=y>.pem"


def destructive_plan() -> Plan:
    """What a pull request or a CA can put in front of a reviewer: a remove that
    revokes and deletes (every path and the serial shown), a hostile recorded path,
    and an ARI explanationURL full of markdown and HTML."""
    gone = desired("gone", ["gone.example.com"], install=[target(7)])
    rec = record(gone, on_remove={"revoke": True, "delete_files": True})
    parts = dict(rec.installs[0].parts) | {HOSTILE_PATH: "00"}
    rec = rec.model_copy(update={"installs": [rec.installs[0].model_copy(
        update={"parts": parts})]})
    due = desired("ari-due", ["ari.example.com", "www.example.com"])
    window = AriWindow(start=NOW - DAY, end=NOW + DAY, explanation_url=HOSTILE_URL)
    return make_plan([due], {"gone": rec, "ari-due": record(due)},
                     Observations(ari={"ari-due": window}), NOW)


def empty_plan() -> Plan:
    return make_plan([], {}, Observations(ari_refreshed=True), NOW)


PLANS = {"all_actions": all_actions_plan, "empty": empty_plan,
         "destructive": destructive_plan}


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
    assert doc["summary"] == {"issue": 3, "renew": 2, "install": 2, "remove": 1}
    for change in doc["changes"]:
        assert {"certificate", "action", "reason", "domains"} <= set(change)
        assert isinstance(change["domains"], list) and change["reason"]
    assert [c["certificate"] for c in doc["unchanged"]] == ["d-ok", "f-short"]
    assert doc == plan_json(all_actions_plan()) | {}  # same data, serialisable


def test_issue_and_renew_list_their_targets_and_what_runs() -> None:
    """A reviewer sees, for a new certificate too, every target and every command that
    will run on the host (the JSON plan had `install_targets: []` for these)."""
    doc = json.loads(RENDERERS["json"](all_actions_plan(), False))
    by = {c["certificate"]: c for c in doc["changes"]}
    assert by["g-hooks"]["install_targets"] == [0]
    assert by["g-hooks"]["runs"] == [
        {"install_target": 0, "step": "check", "run": "nginx -t"},
        {"install_target": 0, "step": "reload", "run": "nginx -s reload"},
        {"install_target": 0, "step": "verify", "run": "handshake 127.0.0.1:443"}]
    assert by["h-due"]["action"] == "renew" and by["h-due"]["install_targets"] == [0, 1]
    assert [r["run"] for r in by["h-due"]["runs"]] == ["apachectl configtest",
                                                      "apachectl graceful"]
    assert by["h-due"]["writes"] == ["/srv/t9/site.key", "/srv/t9/fullchain.pem",
                                     "/srv/t10/site.key", "/srv/t10/fullchain.pem"]
    assert by["a-new"]["install_targets"] == [] and by["a-new"]["runs"] == []  # no target
    text = render_text(all_actions_plan())
    assert "install[0] check: nginx -t" in text and "install[0] reload: nginx -s reload" in text
    md = RENDERERS["markdown"](all_actions_plan(), False)
    assert "install\\[0\\] check: apachectl configtest" in md


def test_summary_counts() -> None:
    assert summary(empty_plan()) == "Plan: 0 to issue, 0 to renew, 0 to install, 0 to remove."


def test_destructive_plan_shows_every_path_and_serial_and_renders_nothing() -> None:
    plan = destructive_plan()
    gone = next(c for c in plan.changes if c.name == "gone")
    assert gone.revoke_serial == "0a1b2c"
    assert set(gone.delete_paths) == {"/srv/t7/site.key", "/srv/t7/fullchain.pem",
                                      HOSTILE_PATH}
    doc = plan_json(plan)
    (removed,) = [c for c in doc["changes"] if c["certificate"] == "gone"]
    assert removed["revoke_serial"] == "0a1b2c"
    assert set(removed["delete_paths"]) == set(gone.delete_paths)
    text = render_text(plan)
    assert "\x1b" not in text and "\r" not in text and "\\x1b[2J" in text
    assert "/srv/t7/site.key" in text and "serial 0a1b2c" in text
    md = RENDERERS["markdown"](plan, False)
    assert "\x1b" not in md and "\r" not in md
    rendered = re.sub(r"`[^`]*`", "", md)  # code spans show their text as written
    assert "<img" not in rendered and "![" not in rendered and "[t]" not in rendered
    assert "](" not in rendered.replace("\\](", "")
    assert "`https://ca.test/why`" in md  # a URL is shown as code, never linked
    assert "`![img](https://evil.test/p.png)`" in md


@pytest.mark.parametrize("hostile,shown", [
    ("see https://evil.test/x", "see `https://evil.test/x`"),
    ("www.evil.test, then", "`www.evil.test`, then"),
    ("mail root@evil.test", "mail `root@evil.test`"),
    ("![i](u) [t](u)", "\\!\\[i\\](u) \\[t\\](u)"),
    ("<script>x</script> & *bold* _em_ ~s~", "&lt;script&gt;x&lt;/script&gt; &amp; \\*bold\\* "
                                             "\\_em\\_ \\~s\\~"),
    ("a | b\nc\x1b[0m\u202e", "a \\| b<br>c\\\\x1b\\[0m\\\\u202e"),
    ("`code` with ` tick https://a.test/`x`", "\\`code\\` with \\` tick `https://a.test/'x'`"),
])
def test_markdown_escapes_what_a_ca_or_file_supplied(hostile: str, shown: str) -> None:
    from certplan.core.escape import markdown

    assert markdown(hostile) == shown


def test_text_shows_control_characters() -> None:
    from certplan.core.escape import plain

    assert plain("a\x1b[2J\rb\n\u202ec") == "a\\x1b[2J\\x0db\\x0a\\u202ec"
    assert plain("a\nb", newlines=True) == "a\nb"
